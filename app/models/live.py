"""The live layer of an open evaluation sheet: what is being typed, field by field, and who
has the sheet open. Only a save writes the sheet itself (app/services/live.py)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, Text, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class SheetLiveField(db.Model):
    """The shared value of one field of an open sheet; `seq` orders the changes."""

    __tablename__ = "sheet_live_fields"

    evaluation_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("evaluations.id", ondelete="CASCADE"),
        primary_key=True)
    field: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    seq: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("ix_sheet_live_fields_seq", "evaluation_id", "seq"),)


class SheetPresence(db.Model):
    """One open page of a sheet (a browser tab), refreshed by each of its polls."""

    __tablename__ = "sheet_presence"

    evaluation_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("evaluations.id", ondelete="CASCADE"),
        primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    field: Mapped[str | None] = mapped_column(String(80))
    seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
