"""Streamed answers (feeds, exports) that fail before they start, not halfway.

Once the first byte of a streamed answer is sent, its status (200) and headers are
gone: an error after that can only cut the body. So a streamed view runs its
generator up to the first chunk before it returns (`streamed_response`), and
generators put the first batch of rows in their first chunk: a database that cannot
be reached then raises in the view, which answers 503 (app/outage.py). Reading
stops at a short batch and the closing rollback forgives a server gone away, so
an answer of one batch (up to 2,000 entries) needs no server once it has started.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import Response, stream_with_context
from sqlalchemy import Connection, Executable
from sqlalchemy.exc import DBAPIError

from .dbcheck import is_outage

T = TypeVar("T")
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


def started(chunks: Iterator[T]) -> Iterator[T]:
    """`chunks`, run now up to its first chunk (errors raise here), then the rest."""
    try:
        first = next(chunks)
    except StopIteration:
        return iter(())
    return _resume(first, chunks)


def _resume(first: T, rest: Iterator[T]) -> Iterator[T]:
    try:
        yield first
        yield from rest
    finally:
        close = getattr(rest, "close", None)
        if close is not None:  # a client gone before the end: release the connection
            close()


def streamed_response(chunks: Iterator[Any], **kwargs: Any) -> Response:
    """A streamed Response whose generator has already produced its first chunk."""
    return Response(stream_with_context(started(chunks)), **kwargs)
