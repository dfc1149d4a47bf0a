"""A named source in the registry: where data comes from, how it is read, how much it
weighs against other sources, and when it is read again (app.sources)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db

SOURCE_KINDS = ("atlas", "gogocarto", "openfairdb", "overpass", "csv", "geojson")


class RegisteredSource(db.Model):
    __tablename__ = "registered_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    # The Source.origin of what it feeds: source:<name>, or remote:<name> for an Atlas.
    origin: Mapped[str] = mapped_column(String(80), unique=True)
    url: Mapped[str] = mapped_column(String(1000))
    mapping: Mapped[str | None] = mapped_column(String(1000))  # a mapping file (csv…)
    area: Mapped[str | None] = mapped_column(String(200))  # min_lon,min_lat,max_lon,max_lat
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    licence: Mapped[str | None] = mapped_column(String(200))
    # Higher wins a disagreement between sources; an editor wins over all.
    priority: Mapped[int] = mapped_column(default=0, server_default="0")
    schedule_hours: Mapped[int | None] = mapped_column()  # None: run by hand only
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # "fernet:<token>" (encrypted with the app's secret) or "env:<VARIABLE>"; never shown.
    credential: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_runs.id", ondelete="SET NULL"))
    last_test: Mapped[str | None] = mapped_column(Text)
