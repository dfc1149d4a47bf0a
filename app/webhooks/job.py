"""One run of the webhooks: store what the change feed holds for each subscriber, then
send what is due. The built-in job `webhooks` (`atlas jobs run webhooks`, on a timer)
runs it under the job's advisory lock, so two senders never overlap; `atlas webhooks
deliver` runs the same, under the same lock."""

from __future__ import annotations

from datetime import datetime

from .events import collect_all
from .sender import send_due

BATCH = 200


def run(now: datetime | None = None, limit: int = BATCH) -> str:
    """What the run did, in a line."""
    stored = collect_all()
    outcomes = send_due(now, limit)
    said = ", ".join(f"{n} {what}" for what, n in sorted(outcomes.items())) or "nothing due"
    return f"{stored} new deliveries stored; sent: {said}"
