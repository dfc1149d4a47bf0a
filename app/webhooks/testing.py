"""A subscriber's test: a signed `ping` stored and sent at once, as any delivery is
(logged, and retried by the job if the receiver fails)."""

from __future__ import annotations

from ..extensions import db
from ..models import WebhookDelivery, WebhookSubscriber
from .events import enqueue_ping
from .sender import send_one
from .subscribers import WebhookError


def ping(subscriber: WebhookSubscriber) -> WebhookDelivery:
    """The ping delivery after its first attempt (paused subscribers are not sent to)."""
    if not subscriber.active:
        raise WebhookError("subscriber", f"subscriber {subscriber.id} is paused: resume it "
                                         "first")
    delivery = enqueue_ping(subscriber)
    delivery_id = delivery.id
    send_one(only=delivery_id)
    db.session.expire_all()
    return db.session.get(WebhookDelivery, delivery_id)
