"""A cheap fingerprint of the public data, for ETag and Last-Modified answers.

It must change whenever a reader could see something new, including when a
transaction that took its id early commits late: so it holds, besides the highest
`change_xid` of entries (every insert or update moves it), the ids of the
transactions still running below that highest one (when one of them ends, the
fingerprint moves). Entries are never deleted, only tombstoned (an update), so no
count is needed; a row deleted by hand in SQL would not move it. The small
tables (tags, evaluation keys, sheets and answers) are fingerprinted by every
row's xmin, which any write changes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from ..extensions import db

# Index lookups only (ix_entries_change, ix_entries_updated_at): cheap at any size.
STATE_SQL = text("""
WITH e AS (
    SELECT (SELECT change_xid FROM entries ORDER BY change_xid DESC, id DESC LIMIT 1) AS top,
           (SELECT updated_at FROM entries ORDER BY updated_at DESC LIMIT 1) AS last
), snap AS (
    SELECT pg_current_snapshot() AS s
)
SELECT e.top::text, e.last,
       (SELECT count(*) FROM snap, pg_snapshot_xip(snap.s) AS x),
       (SELECT array_agg(x::text ORDER BY x) FROM snap, pg_snapshot_xip(snap.s) AS x
        WHERE x <= e.top),
       (SELECT md5(coalesce(string_agg(xmin::text, ',' ORDER BY id), '')) FROM tags),
       (SELECT md5(coalesce(string_agg(xmin::text, ',' ORDER BY slug), '')) FROM evaluation_keys),
       (SELECT md5(coalesce(string_agg(xmin::text, ',' ORDER BY id), '')) FROM evaluations),
       (SELECT md5(coalesce(string_agg(xmin::text, ',' ORDER BY id), '')) FROM answers)
FROM e
""")


@dataclass(frozen=True)
class DataState:
    token: str
    # None while any transaction runs: a late commit could carry an older updated_at.
    last_modified: datetime | None


def data_state() -> DataState:
    row = db.session.execute(STATE_SQL).one()
    top, last, running, below, *small = row
    token = hashlib.sha256(repr((top, below, small)).encode()).hexdigest()[:32]
    return DataState(token, last if running == 0 else None)
