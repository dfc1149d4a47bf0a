"""A record of each import: who ran what, when, and what it did."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class ImportRun(db.Model):
    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    origin: Mapped[str] = mapped_column(String(80))
    location: Mapped[str | None] = mapped_column(String(1000))
    mapping: Mapped[str | None] = mapped_column(String(1000))
    # The Revision.author_label of what the run wrote ("import osm").
    author_label: Mapped[str | None] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20), default="running", server_default="running")
    created: Mapped[int] = mapped_column(default=0, server_default="0")
    updated: Mapped[int] = mapped_column(default=0, server_default="0")
    unchanged: Mapped[int] = mapped_column(default=0, server_default="0")
    duplicates: Mapped[int] = mapped_column(default=0, server_default="0")
    conflicts: Mapped[int] = mapped_column(default=0, server_default="0")
    rejected: Mapped[int] = mapped_column(default=0, server_default="0")
    skipped: Mapped[int] = mapped_column(default=0, server_default="0")
    # Records of an earlier run of the same origin that this full run did not see,
    # and those of them closed on request (--close-missing).
    missing: Mapped[int] = mapped_column(default=0, server_default="0")
    closed: Mapped[int] = mapped_column(default=0, server_default="0")
    warnings: Mapped[int] = mapped_column(default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    # Rejected rows, warnings, conflicts, flagged duplicates and missing records, each
    # with its reason (app.services.runs.Problem.as_dict()).
    report: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default="[]")
