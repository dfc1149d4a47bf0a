"""A source's record detached from an entry by an editor: the source's next runs
(imports, pulls) neither feed that entry again nor create it anew
(app.services.source_detach)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class SourceExclusion(db.Model):
    __tablename__ = "source_exclusions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The record as its source names it (Source.origin, Source.external_id) …
    origin: Mapped[str] = mapped_column(String(80))
    external_id: Mapped[str] = mapped_column(String(200))
    # … and the entry it no longer feeds.
    entry_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("entries.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("origin", "external_id",
                         name="uq_source_exclusions_origin_external_id"),
    )
