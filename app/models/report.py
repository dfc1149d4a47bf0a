"""A citizen's report that an entry is wrong: closed, moved, wrong information, a duplicate.

Reports are private (the editors' queue, never a public output). Handled reports are
kept, with who handled them, when, and their note. `client_key` and `session_key` are
keyed hashes of the reporter's address and of a random token in their session: the
rate limit counts them, and neither can be turned back into an address.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, Text, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .entry import Entry
from .user import User
from .vocab import sql_in

REPORT_REASONS = ("closed", "moved", "wrong", "duplicate")
REPORT_MESSAGE_MAX = 1000
HANDLED_NOTE_MAX = 1000


class ErrorReport(db.Model):
    __tablename__ = "error_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("entries.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(20))
    message: Mapped[str | None] = mapped_column(String(REPORT_MESSAGE_MAX))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
    client_key: Mapped[str] = mapped_column(String(64))
    session_key: Mapped[str | None] = mapped_column(String(64))
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handled_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)

    entry: Mapped[Entry] = relationship()
    handled_by: Mapped[User | None] = relationship()

    __table_args__ = (
        CheckConstraint(sql_in("reason", REPORT_REASONS), name="reason"),
        Index("ix_error_reports_client_created", "client_key", "created_at"),
        Index("ix_error_reports_session_created", "session_key", "created_at"),
        Index("ix_error_reports_handled_created", "handled_at", "created_at"),
    )
