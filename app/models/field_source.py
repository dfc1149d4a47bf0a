"""Who holds each field of an entry now: a source (its origin) or an editor (origin
NULL), the value's hash, and since when (app.services.provenance).

Its keys to entries and users are kept by statement triggers, not foreign keys
(migration 0026: the same guarantees, one check per statement instead of one per row of
the fourteen an entry has): no holder of an entry or user that is not there, an entry
deleted takes its holders with it, a user deleted leaves them held by no one."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class EntryFieldSource(db.Model):
    __tablename__ = "entry_field_sources"

    entry_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    field: Mapped[str] = mapped_column(String(40), primary_key=True)
    origin: Mapped[str | None] = mapped_column(String(80))
    user_id: Mapped[int | None] = mapped_column(Integer)
    value_hash: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
