"""Webhooks: subscribers, the deliveries stored for them, and each attempt to send one.

A delivery is written (with its body, signed as stored) in the same transaction that
moves its subscriber's cursor along the change feed, and sent afterwards: a sender
that dies between the two finds it pending at its next run (app/webhooks).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .vocab import sql_in

WEBHOOK_EVENTS = ("entry.changed", "entry.deleted")
DELIVERY_STATES = ("pending", "delivered", "failed")


class WebhookSubscriber(db.Model):
    __tablename__ = "webhook_subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    # Kept as is: the HMAC needs it. Shown once at creation, never logged or listed.
    secret: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    # The entries it hears about, as query parameters of every output ("kind=commons&…").
    filter_query: Mapped[str] = mapped_column(Text, default="", server_default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    paused_reason: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    pause_after: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    # Where it is in the change feed (app.query.changes cursor); set at creation.
    feed_cursor: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())

    __table_args__ = (CheckConstraint("pause_after >= 1", name="pause_after"),)


class WebhookDelivery(db.Model):
    __tablename__ = "webhook_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscribers.id", ondelete="CASCADE"))
    subscriber: Mapped[WebhookSubscriber] = relationship()
    event: Mapped[str] = mapped_column(String(40))
    entry_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    body: Mapped[str] = mapped_column(Text)  # the JSON sent, byte for byte (UTF-8)
    state: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                      server_default=func.now())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                 server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(sql_in("state", DELIVERY_STATES), name="state"),
        Index("ix_webhook_deliveries_due", "next_attempt_at",
              postgresql_where=text("state = 'pending'")),
        Index("ix_webhook_deliveries_subscriber", "subscriber_id", "created_at"),
    )


class WebhookAttempt(db.Model):
    """One try at sending a delivery: written before the request, finished after it, so
    an attempt cut short by the process's death stays visible (no outcome)."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
