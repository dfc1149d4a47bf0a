"""Reading many rows in flat memory: batches from a server-side cursor, in a read transaction.

Bulk readers (the GeoJSON feed, exports) put their first batch of rows in their
first chunk, so that a streamed answer fails before it starts rather than halfway
(app/http/streaming.py). Reading stops at a short batch and the closing rollback
forgives a server gone away, so an answer of one batch (up to 2,000 entries) needs
no server once it has started.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Executable
from sqlalchemy.exc import DBAPIError

from ..dbcheck import is_outage

BATCH = 2_000


def batches(conn: Connection, stmt: Executable, size: int = BATCH
            ) -> Iterator[Sequence[Any]]:
    """The rows of `stmt`, `size` at a time, from a server-side cursor; a short batch is
    the last (no round trip to learn that nothing follows)."""
    result = conn.execute(stmt.execution_options(stream_results=True, max_row_buffer=size))
    try:
        while True:
            rows = result.fetchmany(size)
            if rows:
                yield rows
            if len(rows) < size:
                return
    finally:
        result.close()


@contextmanager
def read_transaction(conn: Connection) -> Iterator[Connection]:
    """A transaction that only reads, rolled back at the end.

    A server that went away after the last row was read has ended the transaction
    itself: nothing is left to undo, and the answer is whole.
    """
    transaction = conn.begin()
    try:
        yield conn
    finally:
        try:
            transaction.rollback()
        except DBAPIError as exc:
            if not is_outage(exc):
                raise
