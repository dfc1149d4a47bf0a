"""Revisions: a full snapshot of every write, so nothing an editor writes is lost."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .user import User
from .vocab import sql_in

REVISION_ENTITIES = ("entry", "evaluation", "evaluation_key", "tag")
REVISION_ACTIONS = ("create", "update", "delete", "restore", "revert", "retire", "merge")


class Revision(db.Model):
    __tablename__ = "revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(20))
    entity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    version: Mapped[int]
    action: Mapped[str] = mapped_column(String(20))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Who wrote it when there is no user: "import osm", "demo", "sync lille"…
    author_label: Mapped[str | None] = mapped_column(String(120))
    comment: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONB)

    author: Mapped[User | None] = relationship()

    __table_args__ = (
        CheckConstraint(sql_in("entity_type", REVISION_ENTITIES), name="entity_type"),
        CheckConstraint(sql_in("action", REVISION_ACTIONS), name="action"),
        Index("uq_revisions_entity_version", "entity_type", "entity_id", "version",
              unique=True),
    )
