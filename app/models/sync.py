"""Where each mirror stands: the cursor of a pull or a push, and what a push sent.

A pull follows another instance's change feed; a push follows our own and writes
to another instance's API. Both keep their cursor here, so an interrupted run
resumes where it stopped. A push also keeps, per entry, the version the target
answered last (its `If-Match`), so a change made on the target in between is
seen instead of overwritten.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .vocab import sql_in

SYNC_DIRECTIONS = ("pull", "push")
PUSHED_STATES = ("sent", "deleted", "refused")


class SyncState(db.Model):
    __tablename__ = "sync_states"

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(10))
    # The other instance's base URL, and the name its entries carry here (remote:<name>).
    url: Mapped[str] = mapped_column(String(500))
    name: Mapped[str] = mapped_column(String(60))
    # Opaque: the other instance's `next_cursor` (pull) or our own change cursor (push).
    cursor: Mapped[str | None] = mapped_column(Text)
    # The same for the sheets' feed (/api/v1/evaluations), followed after the entries'.
    sheet_cursor: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    succeeded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(sql_in("direction", SYNC_DIRECTIONS), name="direction"),
        UniqueConstraint("direction", "url", name="uq_sync_states_direction_url"),
    )


class PushedEntry(db.Model):
    """One entry as a push target last acknowledged it."""

    __tablename__ = "sync_pushed"

    state_id: Mapped[int] = mapped_column(
        ForeignKey("sync_states.id", ondelete="CASCADE"), primary_key=True)
    entry_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    # The target's version after our last write ("v<n>" is its ETag); None: not there yet.
    remote_version: Mapped[int | None]
    state: Mapped[str] = mapped_column(String(10))
    # Why the target refused it, for the next run's retry and for the report.
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(sql_in("state", PUSHED_STATES), name="state"),
    )


class PushedSheet(db.Model):
    """One evaluation sheet as a push target last acknowledged it (as PushedEntry)."""

    __tablename__ = "sync_pushed_sheets"

    state_id: Mapped[int] = mapped_column(
        ForeignKey("sync_states.id", ondelete="CASCADE"), primary_key=True)
    evaluation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    remote_version: Mapped[int | None]
    state: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(sql_in("state", PUSHED_STATES), name="state"),
    )


class SheetSource(db.Model):
    """Where a sheet came from (`remote:<name>` + its id there), and the pull's baseline.

    `attributes` holds what was last pulled (`remote`), what that became here
    (`applied`) and the local version after that write (`local_version`): the three-way
    rule's inputs, as an entry's source holds them.
    """

    __tablename__ = "sheet_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("evaluations.id", ondelete="CASCADE"), index=True)
    origin: Mapped[str] = mapped_column(String(80))
    external_id: Mapped[str] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict,
                                                       server_default="{}")
    first_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        UniqueConstraint("origin", "external_id", name="uq_sheet_sources_origin_external_id"),
    )
