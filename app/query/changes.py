"""The change feed: every entry in the order of the transaction that last wrote it.

Rows are ordered by (change_xid, id), the id of the transaction that last wrote
the row (set by a trigger) and the entry id. A row is handed out only once every
transaction older than its own has finished (`change_xid` below the snapshot's
xmin): a transaction that took its id early but commits late is withheld until
then, instead of being stepped over as a timestamp cursor would. Each entry
appears at its latest change (a state feed); an entry deleted or withdrawn from
publication appears as a deletion.

The evaluation sheets have a feed of their own with the same mechanics
(`SHEET_FEED`: evaluations.change_xid, set by the trigger of migration 0017), so that
a client of the entries' feed never meets an item it does not know.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, cast, literal, literal_column, select, text, tuple_
from sqlalchemy.dialects.postgresql import UUID

from ..extensions import db
from ..models import Entry, Evaluation
from ..models.entry import XID8
from .paging import Cursor, SortKey


@dataclass(frozen=True)
class Feed:
    """A table read in the order of the transaction that last wrote each row."""

    sort: str  # a cursor names its feed: one feed's cursor is refused by another
    xid: Any
    id: Any

    @property
    def keys(self) -> tuple[SortKey, SortKey]:
        return (SortKey(self.xid), SortKey(self.id))


ENTRY_FEED = Feed("changes", Entry.change_xid, Entry.id)
SHEET_FEED = Feed("sheet-changes", Evaluation.change_xid, Evaluation.id)
FEED_SORT = ENTRY_FEED.sort
FEED_KEYS = ENTRY_FEED.keys
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


def start_cursor(feed: Feed = ENTRY_FEED) -> Cursor:
    return Cursor(feed.sort, (0, uuid.UUID(int=0)))


def decode_cursor(raw: str, name: str = "since", feed: Feed = ENTRY_FEED) -> Cursor:
    return Cursor.decode(raw, feed.sort, feed.keys, name)


def end_cursor(feed: Feed = ENTRY_FEED) -> Cursor:
    """A cursor after every change already handed out or that ever could be: every
    transaction below the horizon has ended, so the feed continues from there."""
    horizon = int(db.session.execute(_OLDEST_RUNNING).scalar_one())
    return Cursor(feed.sort, (horizon - 1, uuid.UUID(int=(1 << 128) - 1)))


def after(cursor: Cursor, feed: Feed = ENTRY_FEED) -> ColumnElement[bool]:
    """Rows of `feed` strictly after `cursor`."""
    xid, row_id = cursor.values
    return tuple_(feed.xid, feed.id) > tuple_(cast(literal(str(xid)), XID8()),
                                              cast(literal(str(row_id)), UUID(as_uuid=True)))


def changes_after(cursor: Cursor | None, limit: int, item: ColumnElement[str],
                  feed: Feed = ENTRY_FEED, *where: ColumnElement[bool]) -> ChangePage:
    """Up to `limit` changes after `cursor` (None: from the start), each as `item`:
    the serialiser's text of a changed row (app.formats.changes.change_json,
    app.formats.sheet_changes.sheet_change_json); `where` leaves rows out (rows never
    in the feed, a webhook subscriber's filter)."""
    cursor = cursor or start_cursor(feed)
    stmt = (select(item, feed.xid, feed.id)
            .where(after(cursor, feed), feed.xid < HORIZON, *where)
            .order_by(feed.xid, feed.id)
            .limit(limit + 1))
    rows = db.session.execute(stmt).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    if rows:
        cursor = Cursor(feed.sort, (rows[-1][1], rows[-1][2]))
    return ChangePage([row[0] for row in rows], cursor, has_more)
