"""Answers of the address service, kept so that the same question is asked once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class GeocodeAnswer(db.Model):
    """One answer: `kind` search or reverse, `query` the question in its normal form."""

    __tablename__ = "geocode_answers"

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    query: Mapped[str] = mapped_column(Text, primary_key=True)
    # The best feature of the answer (GeoJSON, as the service gave it), or null: none.
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    fetched_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
