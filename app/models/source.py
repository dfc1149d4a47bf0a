"""Provenance of an entry: where it came from, so re-imports can find it again."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, ForeignKey, Index, String, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db

if TYPE_CHECKING:
    from .entry import Entry


class Source(db.Model):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("entries.id", ondelete="CASCADE"), index=True)
    # osm, csv:<name>, manual, demo, remote:<platform>
    origin: Mapped[str] = mapped_column(String(80))
    # node/123, a CSV row key, a remote UUID…
    external_id: Mapped[str] = mapped_column(String(200))
    licence: Mapped[str | None] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default="{}")
    first_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
    # Set when an import linked this record to an existing entry as its twin: why (a
    # code and its parameters, app/services/link_reasons.py).
    linked_reason: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    entry: Mapped[Entry] = relationship(back_populates="sources")

    __table_args__ = (
        UniqueConstraint("origin", "external_id", name="uq_sources_origin_external_id"),
        # Records of an origin not seen by its last full import.
        Index("ix_sources_origin_last_seen", "origin", "last_seen_at"),
        # The editors' list of recent links (app/editor/links.py).
        Index("ix_sources_linked", "first_seen_at",
              postgresql_where=text("linked_reason IS NOT NULL")),
        # A pull's links waiting for their targets (app/sync/pull_batch.py).
        Index("ix_sources_pending", "origin", postgresql_where=text("attributes ? 'pending'")),
    )
