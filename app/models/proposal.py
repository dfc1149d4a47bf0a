"""Proposals: what a contributor (or an anonymous visitor) asks the editors to publish.

A proposed *creation* is the entry itself, stored with moderation "pending" (so the
public never sees it) plus this row. A proposed *edit* of a published entry must not
touch the published version: the proposed content waits here, in `data` (a full
entry snapshot in the write service's input form), with the version it was based
on; an editor's acceptance applies it through the write service.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .entry import Entry
from .user import User
from .vocab import PROPOSAL_ACTIONS, PROPOSAL_STATES, sql_in


class Proposal(db.Model):
    __tablename__ = "proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("entries.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    # The proposed content of an edit (None for a creation: the pending entry holds it).
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The entry's version the proposal was written against.
    base_version: Mapped[int]
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # An anonymous suggestion has no user: "suggestion".
    author_label: Mapped[str | None] = mapped_column(String(120))
    # How to reach an anonymous suggester, if they said.
    contact: Mapped[str | None] = mapped_column(String(254))
    comment: Mapped[str | None] = mapped_column(String(1000))
    # The language the proposal was written in: its author hears of the decision in it.
    locale: Mapped[str | None] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    review_comment: Mapped[str | None] = mapped_column(String(1000))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())

    entry: Mapped[Entry] = relationship()
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])

    __table_args__ = (
        CheckConstraint(sql_in("action", PROPOSAL_ACTIONS), name="action"),
        CheckConstraint(sql_in("state", PROPOSAL_STATES), name="state"),
        CheckConstraint("action = 'create' OR data IS NOT NULL", name="edit_has_data"),
        Index("ix_proposals_state_created", "state", "created_at"),
    )

    @property
    def author_name(self) -> str:
        if self.author is not None:
            return self.author.name or self.author.email
        return self.author_label or "?"

    def __repr__(self) -> str:
        return f"<Proposal {self.id} {self.action} {self.state}>"
