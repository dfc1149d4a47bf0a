"""A cheap fingerprint of the public data, for ETag and Last-Modified answers.

It must change whenever a reader could see something new, including when a
transaction that took its id early commits late: so it holds the highest id of a
transaction that wrote (`entries.change_xid`, which every insert or update of an
entry moves, and `data_changes`, where a trigger appends a row for each statement
that writes tags, links, evaluation keys, sheets or answers) and the ids of the
transactions still running below it (when one of them ends, the fingerprint
moves). Both are index look-ups, whatever the number of entries, sheets or answers.
Entries are never deleted, only tombstoned (an update); deletes from the small
tables are logged like any write.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from ..extensions import db

# Index look-ups only (ix_entries_change, ix_entries_updated_at,
# ix_data_changes_change_xid, pk_data_changes): cheap at any size.
STATE_SQL = text("""
WITH e AS (
    SELECT greatest(
               (SELECT change_xid FROM entries ORDER BY change_xid DESC, id DESC LIMIT 1),
               (SELECT change_xid FROM data_changes ORDER BY change_xid DESC LIMIT 1)) AS top,
           greatest(
               (SELECT updated_at FROM entries ORDER BY updated_at DESC LIMIT 1),
               (SELECT changed_at FROM data_changes ORDER BY id DESC LIMIT 1)) AS last
), snap AS (
    SELECT pg_current_snapshot() AS s
)
SELECT e.top::text, e.last,
       (SELECT count(*) FROM snap, pg_snapshot_xip(snap.s) AS x),
       (SELECT array_agg(x::text ORDER BY x) FROM snap, pg_snapshot_xip(snap.s) AS x
        WHERE x <= e.top)
FROM e
""")


@dataclass(frozen=True)
class DataState:
    token: str
    # None while any transaction runs: a late commit could carry an older updated_at.
    last_modified: datetime | None


def data_state() -> DataState:
    return state_of(*db.session.execute(STATE_SQL).one())


def state_of(top: str | None, last: datetime | None, running: int,
             below: list[str] | None) -> DataState:
    """The state from STATE_SQL's four columns (also read inside other statements)."""
    token = hashlib.sha256(repr((top, below)).encode()).hexdigest()[:32]
    return DataState(token, last if running == 0 else None)
