"""Accounts: argon2 password hashes, roles."""

from __future__ import annotations

from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from flask import current_app, has_app_context
from sqlalchemy import func, select

from ..extensions import db
from ..models import User
from ..models.vocab import USER_ROLES
from .errors import WriteValidationError, coded
from .sessions import end_sessions_of

MIN_PASSWORD = 10
# argon2-cffi's defaults: RFC 9106's low-memory profile, a tenth of a second a hash here.
_STANDARD = PasswordHasher()
# The least work argon2 accepts, for test runs only (PASSWORD_HASHING = "minimal", which
# create_app refuses unless TESTING): they log in hundreds of times. Same algorithm, same
# code paths; a check reads the cost from the hash itself, so a standard hash is still
# checked at its own cost.
_MINIMAL = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def _hasher() -> PasswordHasher:
    minimal = has_app_context() and current_app.config.get("PASSWORD_HASHING") == "minimal"
    return _MINIMAL if minimal else _STANDARD


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(user: User, password: str) -> bool:
    if not user.password_hash:
        return False
    try:
        return _STANDARD.verify(user.password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def create_user(email: str, password: str, role: str, name: str | None = None) -> User:
    email = email.strip()
    errors: dict[str, list[str]] = {}
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        errors["email"] = [coded("invalid_email", "Not a valid email address.")]
    elif find_user(email) is not None:
        errors["email"] = [coded("email_taken", "An account with this email already exists.")]
    if role not in USER_ROLES:
        errors["role"] = [_one_of_roles()]
    if len(password) < MIN_PASSWORD:
        errors["password"] = [_too_short()]
    if errors:
        raise WriteValidationError(errors)
    user = User(email=email, name=name, role=role, password_hash=hash_password(password))
    db.session.add(user)
    db.session.commit()
    return user


def _one_of_roles() -> str:
    return coded("one_of", "One of {choices}.", choices=", ".join(USER_ROLES))


def _too_short() -> str:
    return coded("too_short", "At least {min} characters.", min=MIN_PASSWORD)


class LastAdminError(WriteValidationError):
    """The change would leave no active administrator: no one could manage accounts."""


def _keep_an_admin(user: User, *, role: str, active: bool) -> None:
    if user.role != "admin" or not user.active or (role == "admin" and active):
        return
    # The active admins' rows stay locked until the commit: two admins demoting each other
    # at once cannot both see the other one left.
    admins = db.session.scalars(select(User.id).where(
        User.role == "admin", User.active.is_(True)).with_for_update()).all()
    if not [uid for uid in admins if uid != user.id]:
        raise LastAdminError({"role": [coded(
            "last_admin", "{email} is the last active administrator: name another one first.",
            email=user.email)]})


def _require(email: str) -> User:
    user = find_user(email)
    if user is None:
        raise WriteValidationError({"email": [coded(
            "no_such_account", "No account with the email {value!r}.", value=email)]})
    return user


def set_role(email: str, role: str) -> User:
    if role not in USER_ROLES:
        raise WriteValidationError({"role": [_one_of_roles()]})
    user = _require(email)
    _keep_an_admin(user, role=role, active=user.active)
    user.role = role
    db.session.commit()
    return user


def set_password(email: str, password: str) -> User:
    """A new password; every session of the account ends."""
    if len(password) < MIN_PASSWORD:
        raise WriteValidationError({"password": [_too_short()]})
    user = _require(email)
    user.password_hash = hash_password(password)
    end_sessions_of(user, commit=False)  # whoever knew the old password is logged out
    db.session.commit()
    return user


def set_active(email: str, active: bool) -> User:
    """Deactivating keeps the account (its revisions name it) but stops logins and tokens,
    and ends its sessions."""
    user = _require(email)
    _keep_an_admin(user, role=user.role, active=active)
    user.active = active
    if not active:  # for good: reactivating does not revive a copied cookie
        end_sessions_of(user, commit=False)
    db.session.commit()
    return user


def record_login(user: User) -> None:
    """When the account last logged in (shown to administrators)."""
    user.last_login_at = datetime.now(UTC)
    db.session.commit()


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(func.lower(User.email))))
