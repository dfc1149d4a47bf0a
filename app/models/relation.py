"""Typed, directed links between entries ("La Coroutine uses Loomio")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .vocab import RELATION_TYPES, sql_in

if TYPE_CHECKING:
    from .entry import Entry


class Relation(db.Model):
    __tablename__ = "relations"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("entries.id", ondelete="CASCADE"))
    target_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("entries.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())

    source: Mapped[Entry] = relationship(
        foreign_keys=[source_id], back_populates="relations_out")
    target: Mapped[Entry] = relationship(
        foreign_keys=[target_id], back_populates="relations_in", overlaps="relations_out")

    __table_args__ = (
        CheckConstraint(sql_in("type", RELATION_TYPES), name="type"),
        CheckConstraint("source_id <> target_id", name="not_self"),
        UniqueConstraint("source_id", "target_id", "type", name="uq_relations_link"),
    )

    def __repr__(self) -> str:
        return f"<Relation {self.source_id} {self.type} {self.target_id}>"
