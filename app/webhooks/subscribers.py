"""Webhook subscribers: who is told, about what, and whether they are listening.

A subscriber is a URL (http or https only), a secret made here (shown once: it signs
every request, so it is kept sealed with the application's key (app/sealing.py), never
logged nor listed), the events it wants,
a filter in the query parameters every output takes (`kind=commons&tag=…&bbox=…`),
and a switch: active or paused (by an admin, or after `pause_after` failures in a
row). It hears of the changes made after its creation.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from ..extensions import db
from ..models import WebhookDelivery, WebhookSubscriber
from ..models.webhook import WEBHOOK_EVENTS
from ..query import ParameterError, parse_filter, unknown_tags
from ..query.changes import end_cursor
from ..query.filters import FILTER_PARAMETERS, EntryFilter
from ..sealing import seal, unseal

# The sealing key's purpose: a webhook secret never opens with a source credential's key.
SECRET_PURPOSE = b"atlas webhook secrets"

MAX_URL_LENGTH = 2000


class WebhookError(ValueError):
    """A subscriber setting that cannot be used; names the field and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host and no credentials in it."""
    url = (url or "").strip()
    if not url:
        raise WebhookError("url", "required")
    if len(url) > MAX_URL_LENGTH:
        raise WebhookError("url", f"longer than {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise WebhookError("url", "must start with http:// or https://")
    if not parts.hostname:
        raise WebhookError("url", "has no host")
    if parts.username or parts.password:
        raise WebhookError("url", "must not hold a user name or password")
    if any(c.isspace() for c in url):
        raise WebhookError("url", "must not contain spaces")
    return url


def check_events(events: list[str] | tuple[str, ...] | None) -> list[str]:
    chosen = list(dict.fromkeys(events or WEBHOOK_EVENTS))
    unknown = [e for e in chosen if e not in WEBHOOK_EVENTS]
    if unknown:
        raise WebhookError("events", f"unknown event {unknown[0]!r}; expected "
                                     f"{', '.join(WEBHOOK_EVENTS)}")
    return chosen


def parse_subscriber_filter(query: str | None) -> EntryFilter:
    """The subscriber's filter, read by the query layer as every output reads it."""
    pairs = parse_qsl((query or "").strip().lstrip("?"), keep_blank_values=True)
    unknown = sorted({name for name, _ in pairs if name not in FILTER_PARAMETERS})
    if unknown:
        raise WebhookError("filter", f"unknown parameter {unknown[0]!r}; expected "
                                     f"{', '.join(FILTER_PARAMETERS)}")
    try:
        return parse_filter(MultiDict(pairs), tag_exists=unknown_tags)
    except ParameterError as exc:
        raise WebhookError("filter", str(exc)) from None


def add_subscriber(url: str, events: list[str] | None = None, filter_query: str = "",
                   pause_after: int = 10) -> tuple[WebhookSubscriber, str]:
    """A new active subscriber and its secret (the only time the secret is handed out)."""
    url = check_url(url)
    chosen = check_events(events)
    filter_query = (filter_query or "").strip().lstrip("?")
    parse_subscriber_filter(filter_query)
    if not 1 <= pause_after <= 1000:
        raise WebhookError("pause_after", "must be between 1 and 1000")
    secret = secrets.token_urlsafe(32)
    subscriber = WebhookSubscriber(url=url, secret=seal(secret, SECRET_PURPOSE), events=chosen,
                                   filter_query=filter_query, pause_after=pause_after,
                                   active=True, consecutive_failures=0,
                                   feed_cursor=end_cursor().encode())
    db.session.add(subscriber)
    db.session.commit()
    return subscriber, secret


def signing_secret(subscriber: WebhookSubscriber) -> str:
    """The key that signs the subscriber's requests, unsealed for one request (SealError
    when this SECRET_KEY cannot open it: the subscriber must be added again)."""
    return unseal(subscriber.secret, SECRET_PURPOSE)


def get_subscriber(subscriber_id: int) -> WebhookSubscriber:
    subscriber = db.session.get(WebhookSubscriber, subscriber_id)
    if subscriber is None:
        raise WebhookError("subscriber", f"no subscriber {subscriber_id}")
    return subscriber


def pause(subscriber_id: int, reason: str = "paused by an administrator") -> WebhookSubscriber:
    subscriber = get_subscriber(subscriber_id)
    subscriber.active, subscriber.paused_reason = False, reason
    db.session.commit()
    return subscriber


def resume(subscriber_id: int) -> WebhookSubscriber:
    """Active again, its count of failures reset; what waited is sent at the next run."""
    subscriber = get_subscriber(subscriber_id)
    subscriber.active, subscriber.paused_reason = True, None
    subscriber.consecutive_failures = 0
    db.session.commit()
    return subscriber


def list_subscribers() -> list[tuple[WebhookSubscriber, int]]:
    """Every subscriber with its number of pending deliveries."""
    pending = (select(WebhookDelivery.subscriber_id, func.count().label("n"))
               .where(WebhookDelivery.state == "pending")
               .group_by(WebhookDelivery.subscriber_id).subquery())
    rows = db.session.execute(
        select(WebhookSubscriber, func.coalesce(pending.c.n, 0))
        .outerjoin(pending, pending.c.subscriber_id == WebhookSubscriber.id)
        .order_by(WebhookSubscriber.id)).all()
    return [(row[0], int(row[1])) for row in rows]


def recent_deliveries(subscriber_id: int | None = None, limit: int = 50
                      ) -> list[WebhookDelivery]:
    stmt = select(WebhookDelivery).order_by(WebhookDelivery.created_at.desc(),
                                            WebhookDelivery.id).limit(limit)
    if subscriber_id is not None:
        stmt = stmt.where(WebhookDelivery.subscriber_id == subscriber_id)
    return list(db.session.scalars(stmt))
