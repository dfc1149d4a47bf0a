"""The signature of a webhook request: HMAC-SHA256 of `<timestamp>.<raw body>`.

Headers of every request:
    X-Atlas-Event: entry.changed            (or entry.deleted, ping)
    X-Atlas-Delivery: <uuid>                (the same on every retry: an idempotency key)
    X-Atlas-Timestamp: <unix seconds>       (when this attempt was signed)
    X-Atlas-Signature: sha256=<hex>         (HMAC-SHA256 with the subscriber's secret)

A receiver recomputes the HMAC over the timestamp, a dot and the body exactly as
received, compares in constant time, and refuses a timestamp older than a few
minutes: a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TOLERANCE_S = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Atlas-Signature value."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, body: bytes, event: str, delivery_id: str,
                   now: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {"Content-Type": "application/json", "X-Atlas-Event": event,
            "X-Atlas-Delivery": delivery_id, "X-Atlas-Timestamp": str(timestamp),
            "X-Atlas-Signature": sign(secret, timestamp, body),
            "User-Agent": "atlas-des-communs webhooks"}


def verify(secret: str, body: bytes, timestamp: str, signature: str,
           now: float | None = None, tolerance: int = TOLERANCE_S) -> bool:
    """What a receiver does (written here for receivers in Python and for our tests)."""
    if not timestamp.isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)
