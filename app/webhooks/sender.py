"""Sending deliveries: signed, with time-outs, retried with exponential back-off.

Each attempt is written before the request goes out (the delivery's attempt count
and its next try, moved one back-off ahead, and a row of the log), then finished
with its outcome: a process killed mid-way leaves the delivery pending and the
attempt without an outcome, and the next run sends it again once due. A receiver
may thus see a delivery twice (X-Atlas-Delivery tells), never lose one.

A 2xx answer delivers; anything else (another status, a refused connection, a
time-out) is a failure: the delivery is tried again after 30 s, 1, 2, 4… minutes
(at most 6 hours apart) and given up after MAX_ATTEMPTS; the subscriber is paused
after `pause_after` failures in a row, its pending deliveries kept for its return.
Redirects are not followed: the URL is the one the admin gave.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select

from ..extensions import db
from ..models import WebhookAttempt, WebhookDelivery, WebhookSubscriber
from ..sealing import SealError
from .signature import signed_headers
from .subscribers import signing_secret

RETRY_BASE_S = 30
MAX_DELAY_S = 6 * 3600
MAX_ATTEMPTS = 10
TIMEOUT_S = (5, 15)  # connect, read
ERROR_LENGTH = 500


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th try: 30 s doubled each time, at most 6 hours."""
    return timedelta(seconds=min(RETRY_BASE_S * 2 ** max(attempts - 1, 0), MAX_DELAY_S))


def _due(now: datetime, only: uuid.UUID | None = None) -> WebhookDelivery | None:
    stmt = (select(WebhookDelivery)
            .join(WebhookSubscriber, WebhookSubscriber.id == WebhookDelivery.subscriber_id)
            .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now,
                   WebhookSubscriber.active)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.created_at)
            .limit(1).with_for_update(of=WebhookDelivery, skip_locked=True))
    if only is not None:
        stmt = stmt.where(WebhookDelivery.id == only)
    return db.session.scalar(stmt)


def _post(url: str, secret: str, delivery: WebhookDelivery) -> tuple[int | None, str | None]:
    """(status, error) of one request; nothing is sent to a URL that is not http(s)."""
    import requests  # here, not at every start of the app (test_modes)

    if urlsplit(url).scheme not in ("http", "https"):
        return None, "refused: not an http(s) URL"
    body = delivery.body.encode()
    headers = signed_headers(secret, body, delivery.event, str(delivery.id))
    try:
        answer = requests.post(url, data=body, headers=headers, timeout=TIMEOUT_S,
                               allow_redirects=False)
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:ERROR_LENGTH]
    answer.close()
    if 200 <= answer.status_code < 300:
        return answer.status_code, None
    return answer.status_code, f"HTTP {answer.status_code}"


def send_one(now: datetime | None = None, only: uuid.UUID | None = None) -> str | None:
    """Try the next due delivery (or `only`); its outcome ("delivered", "retry",
    "failed", "paused"), or None when nothing is due."""
    now = now or datetime.now(UTC)
    delivery = _due(now, only)
    if delivery is None:
        db.session.rollback()
        return None
    delivery.attempts += 1
    delivery.next_attempt_at = now + backoff(delivery.attempts)
    attempt = WebhookAttempt(delivery_id=delivery.id, started_at=datetime.now(UTC))
    db.session.add(attempt)
    subscriber = delivery.subscriber
    url = subscriber.url
    try:
        secret: str | None = signing_secret(subscriber)
    except SealError as exc:
        secret = None
        unsealed = f"not sent: the subscriber's secret: {exc}; add the subscriber again"
    db.session.commit()  # the attempt is on record before the request leaves

    status, error = (_post(url, secret, delivery) if secret is not None
                     else (None, unsealed[:ERROR_LENGTH]))

    attempt.finished_at = datetime.now(UTC)
    attempt.status_code, attempt.error = status, error
    delivery.last_status, delivery.last_error = status, error
    subscriber = db.session.get(WebhookSubscriber, delivery.subscriber_id, with_for_update=True)
    if error is None:
        delivery.state, delivery.delivered_at = "delivered", attempt.finished_at
        subscriber.consecutive_failures = 0
        outcome = "delivered"
    else:
        outcome = "retry"
        if delivery.attempts >= MAX_ATTEMPTS:
            delivery.state, outcome = "failed", "failed"
        subscriber.consecutive_failures += 1
        if subscriber.active and subscriber.consecutive_failures >= subscriber.pause_after:
            subscriber.active = False
            subscriber.paused_reason = (f"paused after {subscriber.consecutive_failures} "
                                        f"failed deliveries in a row (last: {error})")
            outcome = "paused"
    db.session.commit()
    return outcome


def send_due(now: datetime | None = None, limit: int = 200) -> Counter[str]:
    """Send up to `limit` due deliveries, one at a time; the count of each outcome."""
    outcomes: Counter[str] = Counter()
    for _ in range(limit):
        outcome = send_one(now)
        if outcome is None:
            break
        outcomes[outcome] += 1
    return outcomes
