"""Signed links of mails: password reset and invitation (itsdangerous, SECRET_KEY).

Nothing is stored: a link carries what it is for and when it was made, signed.
A reset link also carries a fingerprint of the account's password hash, so it works
once: setting the password changes the hash and every earlier link stops. An
invitation stops once its email has an account.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from ..extensions import db
from ..models import User
from ..services.users import find_user

RESET_SALT = "atlas.password-reset"
INVITATION_SALT = "atlas.invitation"


def _now() -> int:
    """The clock of link times (tests move it to see a link expire)."""
    return int(time.time())


class _Signer(TimestampSigner):
    def get_timestamp(self) -> int:
        return _now()


class LinkError(Exception):
    """A link that does not work: `reason` is "invalid", "expired" or "used"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt, signer=_Signer)


def _read(token: str, salt: str, max_age: int) -> dict[str, Any]:
    try:
        data = _serializer(salt).loads(token, max_age=max_age)
    except SignatureExpired:
        raise LinkError("expired") from None
    except BadSignature:
        raise LinkError("invalid") from None
    if not isinstance(data, dict):
        raise LinkError("invalid")
    return data


def _stamp(user: User) -> str:
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:20]


def reset_token(user: User) -> str:
    return _serializer(RESET_SALT).dumps({"u": user.id, "p": _stamp(user)})


def reset_user(token: str) -> User:
    """The active account a reset link is for; LinkError when it does not work (any more)."""
    data = _read(token, RESET_SALT, current_app.config["PASSWORD_RESET_MAX_AGE"])
    user = db.session.get(User, data.get("u")) if isinstance(data.get("u"), int) else None
    if user is None or not user.active:
        raise LinkError("invalid")
    if data.get("p") != _stamp(user):
        raise LinkError("used")
    return user


def invitation_token(email: str, role: str, inviter: User) -> str:
    return _serializer(INVITATION_SALT).dumps({"e": email.strip(), "r": role, "by": inviter.id})


def invitation(token: str) -> dict[str, Any]:
    """{"email", "role", "by"} of an invitation still open; LinkError otherwise."""
    data = _read(token, INVITATION_SALT, current_app.config["INVITATION_MAX_AGE"])
    email, role = data.get("e"), data.get("r")
    if not isinstance(email, str) or role not in ("editor", "contributor"):
        raise LinkError("invalid")
    if find_user(email) is not None:
        raise LinkError("used")
    return {"email": email, "role": role, "by": data.get("by")}
