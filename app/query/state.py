"""A cheap fingerprint of the public data, for ETag and Last-Modified answers.

It must change whenever a reader could see something new, including when a
transaction that took its id early commits late: so it holds, besides the count
and the highest `change_xid` of entries, the ids of the transactions still running
below that highest one (when one of them ends, the fingerprint moves). The small
tables (tags, evaluation keys, sheets and answers) are fingerprinted by every
row's xmin, which any write changes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from ..extensions import db

STATE_SQL = text("""
WITH e AS (
    SELECT count(*) AS n, max(change_xid) AS top, max(updated_at) AS last FROM entries
), running AS (
    SELECT count(*) AS n FROM pg_snapshot_xip(pg_current_snapshot()) AS x
)
SELECT e.n, e.top::text, e.last, running.n,
       (SELECT array_agg(x::text ORDER BY x) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
        WHERE x <= e.top),
       (SELECT md5(coalesce(string_agg(xmin::text, ',' ORDER BY id), '')) FROM tags),
       (SELECT md5(coalesce(string_agg(xmin::text, ',' ORDER BY slug), '')) FROM evaluation_keys),
       (SELECT md5(coalesce(string_agg(xmin::text, ',' ORDER BY id), '')) FROM evaluations),
       (SELECT md5(coalesce(string_agg(xmin::text, ',' ORDER BY id), '')) FROM answers)
FROM e, running
""")


@dataclass(frozen=True)
class DataState:
    token: str
    # None while any transaction runs: a late commit could carry an older updated_at.
    last_modified: datetime | None


def data_state() -> DataState:
    row = db.session.execute(STATE_SQL).one()
    count, top, last, running, below, *small = row
    token = hashlib.sha256(repr((count, top, below, small)).encode()).hexdigest()[:32]
    return DataState(token, last if running == 0 else None)
