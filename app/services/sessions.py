"""Server-side sessions: a signed cookie alone never proves a login.

The Flask session holds a random key; `user_sessions` holds its SHA-256, with who
and since when. Each request looks the key up (`session_user`), so a session ends
for good when its row goes: at logout (that browser only), and for every browser of
an account when it is deactivated or its password changes.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select, update

from ..extensions import db
from ..models import User, UserSession

# `last_seen_at` is written at most this often, so that reading a page rarely writes.
SEEN_EVERY = timedelta(minutes=5)


def _digest(key: str) -> str:
    # 256 random bits: a fast hash is enough, as for API tokens.
    return hashlib.sha256(key.encode()).hexdigest()


def _lifetime() -> timedelta:
    return current_app.config["PERMANENT_SESSION_LIFETIME"]


def open_session(user: User) -> str:
    """A new session of `user` (login): its key, which `user.get_id()` now returns."""
    now = datetime.now(UTC)
    db.session.execute(delete(UserSession).where(   # this account's expired ones
        UserSession.user_id == user.id, UserSession.created_at < now - _lifetime()))
    key = secrets.token_urlsafe(32)
    db.session.add(UserSession(user_id=user.id, token_hash=_digest(key), created_at=now,
                               last_seen_at=now))
    db.session.commit()
    user.session_key = key
    return key


def session_user(key: str) -> User | None:
    """The active user of a live session, or None (unknown, ended or expired key)."""
    if not key:
        return None
    now = datetime.now(UTC)
    row = db.session.execute(
        select(UserSession, User).join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == _digest(key), User.active.is_(True),
               UserSession.created_at >= now - _lifetime())).first()
    if row is None:
        return None
    record, user = row
    if now - record.last_seen_at > SEEN_EVERY:
        db.session.execute(update(UserSession).where(UserSession.id == record.id)
                           .values(last_seen_at=now))
        db.session.commit()
    user.session_key = key
    return user


def end_session(key: str | None) -> None:
    """Logout: this session only."""
    if key:
        db.session.execute(delete(UserSession).where(UserSession.token_hash == _digest(key)))
        db.session.commit()


def end_sessions_of(user: User, *, keep: str | None = None, commit: bool = True) -> None:
    """Every session of `user` (deactivation, new password), but `keep`'s if given."""
    stmt = delete(UserSession).where(UserSession.user_id == user.id)
    if keep:
        stmt = stmt.where(UserSession.token_hash != _digest(keep))
    db.session.execute(stmt)
    if commit:
        db.session.commit()
