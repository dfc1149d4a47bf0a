"""API tokens for platforms and scripts: shown once, stored as SHA-256, revocable."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from ..extensions import db
from ..models import ApiToken, User
from .errors import NotFoundError, WriteValidationError, coded

PREFIX = "atl_"


def _digest(token: str) -> str:
    # Tokens are 256 random bits: a fast hash is enough (no dictionary to guess from).
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str) -> tuple[str, ApiToken]:
    """A new token for `user`; the plaintext is returned once and never stored."""
    name = name.strip()
    if not name:
        raise WriteValidationError({"name": [coded("token_name_needed",
                                                "Name the token (which platform uses it).")]})
    if not user.active:
        raise WriteValidationError({"user": [coded("account_deactivated",
                                                "This account is deactivated.")]})
    plaintext = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name[:120], token_hash=_digest(plaintext))
    db.session.add(token)
    db.session.commit()
    return plaintext, token


# How precisely a token's last use is kept: a write at most once per this interval, not at
# every request (a push of a thousand entries made a thousand UPDATEs and commits of one
# row, which parallel requests of the token waited for in turn).
LAST_USE_PRECISION = timedelta(minutes=1)


def user_for_token(plaintext: str) -> User | None:
    """The active user behind a live token, or None; records when it was last used (to
    LAST_USE_PRECISION)."""
    if not plaintext.startswith(PREFIX):
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(plaintext)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    user = token.user
    now = datetime.now(UTC)
    if token.last_used_at is None or now - token.last_used_at >= LAST_USE_PRECISION:
        token.last_used_at = now
        db.session.commit()
    return user


def revoke_token(token_id: int) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFoundError(f"No token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        db.session.commit()
    return token
