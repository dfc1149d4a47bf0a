"""Events from the change feed: each subscriber's unread changes become deliveries.

The change feed (app.query.changes) is the one source of events, as for mirrors: no
service announces its writes. Each subscriber keeps its own cursor in the feed; a
page of changes is turned into deliveries (their bodies written whole, as they will
be signed and sent) and the cursor moved past them in one transaction, so a change
is stored exactly once per subscriber whatever stops the process.

Upserts are filtered by the subscriber's filter (the query layer's conditions); a
change that takes an entry out of public view (deleted, withdrawn) is sent to every
subscriber that wants `entry.deleted`, since the feed cannot tell what they saw.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import and_, not_, or_, select

from ..extensions import db
from ..formats.changes import change_json
from ..models import WebhookDelivery, WebhookSubscriber
from ..query.changes import ENTRY_FEED, changes_after, decode_cursor
from ..query.entries import conditions
from ..query.filters import EntryFilter
from .subscribers import parse_subscriber_filter

PAGE = 500
EVENT_OF_OP = {"upsert": "entry.changed", "delete": "entry.deleted"}


def body_of(delivery_id: uuid.UUID, event: str, data: str | dict[str, Any],
            at: datetime) -> str:
    """The JSON sent: {"id", "event", "created_at", "data"}; `data` is the feed's change."""
    payload = {"id": str(delivery_id), "event": event,
               "created_at": at.isoformat(timespec="seconds"),
               "data": orjson.Fragment(data) if isinstance(data, str) else data}
    return orjson.dumps(payload).decode()


def _where(subscriber: WebhookSubscriber) -> list[Any]:
    wanted = parse_subscriber_filter(subscriber.filter_query)
    if wanted == EntryFilter():
        return []
    public = and_(*conditions(EntryFilter()))
    return [or_(not_(public), and_(*conditions(wanted)))]


def collect(subscriber: WebhookSubscriber, max_pages: int = 20) -> int:
    """Store the subscriber's new changes as deliveries; how many were stored."""
    stored = 0
    where = _where(subscriber)
    for _ in range(max_pages):
        cursor = decode_cursor(subscriber.feed_cursor, "feed_cursor")
        page = changes_after(cursor, PAGE, change_json(), ENTRY_FEED, *where)
        now = datetime.now(UTC)
        for item in page.items:
            change = orjson.loads(item)
            event = EVENT_OF_OP[change["op"]]
            if event not in subscriber.events:
                continue
            delivery_id = uuid.uuid4()
            db.session.add(WebhookDelivery(
                id=delivery_id, subscriber_id=subscriber.id, event=event,
                entry_id=uuid.UUID(change["id"]), body=body_of(delivery_id, event, item, now),
                state="pending", attempts=0, next_attempt_at=now, created_at=now))
            stored += 1
        subscriber.feed_cursor = page.cursor.encode()
        db.session.commit()  # the deliveries and the cursor past them, together
        if not page.has_more:
            break
    return stored


def collect_all() -> int:
    """collect() for every active subscriber (a paused one catches up when resumed)."""
    ids = list(db.session.scalars(select(WebhookSubscriber.id)
                                  .where(WebhookSubscriber.active).order_by(WebhookSubscriber.id)))
    stored = 0
    for subscriber_id in ids:
        subscriber = db.session.get(WebhookSubscriber, subscriber_id)
        if subscriber is not None and subscriber.active:
            stored += collect(subscriber)
    db.session.commit()
    return stored


def enqueue_ping(subscriber: WebhookSubscriber) -> WebhookDelivery:
    """A `ping` delivery, to test a subscriber's receiver (and its signature check)."""
    now = datetime.now(UTC)
    delivery_id = uuid.uuid4()
    delivery = WebhookDelivery(
        id=delivery_id, subscriber_id=subscriber.id, event="ping", entry_id=None,
        body=body_of(delivery_id, "ping", {"subscriber": subscriber.id}, now),
        state="pending", attempts=0, next_attempt_at=now, created_at=now)
    db.session.add(delivery)
    db.session.commit()
    return delivery
