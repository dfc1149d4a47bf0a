"""The change feed: every entry in the order of the transaction that last wrote it.

Rows are ordered by (change_xid, id), the id of the transaction that last wrote
the row (set by a trigger) and the entry id. A row is handed out only once every
transaction older than its own has finished (`change_xid` below the snapshot's
xmin): a transaction that took its id early but commits late is withheld until
then, instead of being stepped over as a timestamp cursor would. Each entry
appears at its latest change (a state feed); an entry deleted or withdrawn from
publication appears as a deletion.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, cast, literal, literal_column, select, text, tuple_
from sqlalchemy.dialects.postgresql import UUID

from ..extensions import db
from ..models import Entry
from ..models.entry import XID8
from .paging import Cursor, SortKey

FEED_SORT = "changes"
FEED_KEYS = (SortKey(Entry.change_xid), SortKey(Entry.id))
# Every transaction below this one has finished (committed or rolled back).
HORIZON = literal_column("pg_snapshot_xmin(pg_current_snapshot())", type_=XID8())


_NEXT_XID = text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text")
_OLDEST_RUNNING = text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
_WRITERS = text(
    "SELECT pid, datname, state, now() - xact_start AS running FROM pg_stat_activity "
    "WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() ORDER BY xact_start")


def wait_for_horizon(timeout: float, poll: float = 0.05) -> list[str]:
    """Wait until every transaction running now has ended, so the feed holds all that was
    committed before the call (a push right after an import sends the import).

    Returns [] once they have, else, after `timeout` seconds, a line per session that
    still holds the horizon back (any database of the server: transaction ids are the
    server's), so the caller can say why some changes wait for the next run.
    """
    target = int(db.session.execute(_NEXT_XID).scalar_one())
    db.session.commit()
    deadline = time.monotonic() + timeout
    while True:
        oldest = int(db.session.execute(_OLDEST_RUNNING).scalar_one())
        db.session.commit()
        if oldest >= target:
            return []
        if time.monotonic() >= deadline:
            rows = db.session.execute(_WRITERS).all()
            db.session.commit()
            return [f"session {pid} on {datname} ({state}, for {running})"
                    for pid, datname, state, running in rows]
        time.sleep(poll)


@dataclass
class ChangePage:
    items: list[str]  # JSON text of each change, in feed order
    cursor: Cursor  # where the next poll starts (the given one when nothing is new)
    has_more: bool


def start_cursor() -> Cursor:
    return Cursor(FEED_SORT, (0, uuid.UUID(int=0)))


def decode_cursor(raw: str, name: str = "since") -> Cursor:
    return Cursor.decode(raw, FEED_SORT, FEED_KEYS, name)


def end_cursor() -> Cursor:
    """A cursor after every change already handed out or that ever could be: every
    transaction below the horizon has ended, so the feed continues from there."""
    horizon = int(db.session.execute(_OLDEST_RUNNING).scalar_one())
    return Cursor(FEED_SORT, (horizon - 1, uuid.UUID(int=(1 << 128) - 1)))


def changes_after(cursor: Cursor | None, limit: int, item: ColumnElement[str],
                  where: Sequence[ColumnElement[bool]] = ()) -> ChangePage:
    """Up to `limit` changes after `cursor` (None: from the start), each as `item`:
    the serialiser's text of a changed entry (app.formats.changes.change_json).
    `where` leaves changes out (a webhook subscriber's filter)."""
    cursor = cursor or start_cursor()
    xid, entry_id = cursor.values
    stmt = (select(item, Entry.change_xid, Entry.id)
            .where(tuple_(Entry.change_xid, Entry.id)
                   > tuple_(cast(literal(str(xid)), XID8()), cast(literal(str(entry_id)),
                                                                  UUID(as_uuid=True))))
            .where(Entry.change_xid < HORIZON, *where)
            .order_by(Entry.change_xid, Entry.id)
            .limit(limit + 1))
    rows = db.session.execute(stmt).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    if rows:
        cursor = Cursor(FEED_SORT, (rows[-1][1], rows[-1][2]))
    return ChangePage([row[0] for row in rows], cursor, has_more)
