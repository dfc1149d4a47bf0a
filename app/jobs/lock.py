"""One run of a job at a time: a PostgreSQL advisory lock keyed by the job's name.

The lock is held by a connection of its own, outside the job's transactions (which
commit and roll back as they go), in autocommit so that it holds no snapshot open.
It is a session lock: when the process dies, its connection closes and the lock goes
with it, so a killed run never blocks the next one. pg_try_advisory_lock never waits:
a second run learns at once that the job is running.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from ..extensions import db

NAMESPACE = b"atlas-job:"


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for the job's name (Python's hash() varies per process)."""
    digest = hashlib.sha256(NAMESPACE + name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def job_lock(name: str) -> Iterator[bool]:
    """Yields whether this process got the job's lock; releases it at the end."""
    conn = db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    key = lock_key(name)
    try:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    finally:
        conn.close()


RUNNING_SQL = text("""
SELECT EXISTS (SELECT 1 FROM pg_locks
               WHERE locktype = 'advisory' AND granted AND objsubid = 1
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                 AND classid::bigint = :high AND objid::bigint = :low)
""")


def is_running(name: str) -> bool:
    """Whether some process holds the job's lock now, read from pg_locks (trying the lock
    here would make a run starting at that moment skip)."""
    key = lock_key(name) & 0xFFFFFFFFFFFFFFFF
    return bool(db.session.scalar(RUNNING_SQL, {"high": key >> 32, "low": key & 0xFFFFFFFF}))
