"""Accounts of editors and administrators, and the API tokens of platforms."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .vocab import USER_ROLES, sql_in


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str | None] = mapped_column(String(120))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="contributor",
                                      server_default="contributor")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan")

    __table_args__ = (
        CheckConstraint(sql_in("role", USER_ROLES), name="role"),
        CheckConstraint("position('@' in email) > 1", name="email_format"),
        # One account per address, whatever its case.
        Index("uq_users_email_lower", text("lower(email)"), unique=True),
    )

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"

    # -- what Flask-Login asks of a user ------------------------------------------------
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    # The plaintext key of the server-side session this user object was loaded for (set by
    # app.services.sessions at login and on each request; never stored).
    session_key = None

    def get_id(self) -> str:
        """What Flask-Login keeps in the cookie: the key of a UserSession, not the user's id,
        so that ending that record (logout, deactivation, new password) ends the session."""
        if not self.session_key:
            raise RuntimeError("log in through app.services.sessions.open_session")
        return self.session_key

    @property
    def display_name(self) -> str:
        return self.name or self.email


class ApiToken(db.Model):
    """A bearer token for a platform; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(back_populates="tokens")


class UserSession(db.Model):
    """One logged-in browser: the cookie holds a random key, this row its SHA-256.

    Logging out deletes the row; deactivating an account or changing its password
    deletes all of its rows. A copied cookie is then worth nothing, even if the
    account comes back.
    """

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())

    user: Mapped[User] = relationship()
