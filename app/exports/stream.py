"""Reading an export: one consistent snapshot, rows in batches through a server-side cursor.

An export never holds the base in memory: PostgreSQL builds each row, a named
cursor hands them over a batch at a time, and the writer turns each batch into
text before asking for the next. Every table of an export (the entries, then the
relations, sheets… of a data package) and its licence and sources are read in
one REPEATABLE READ transaction, so they agree with each other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Executable

from ..extensions import db

BATCH = 2_000


@contextmanager
def snapshot() -> Iterator[Connection]:
    """A read-only connection of its own, in one snapshot, rolled back at the end."""
    with db.engine.connect() as conn:
        conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin() as transaction:
            try:
                yield conn
            finally:
                transaction.rollback()


def batches(conn: Connection, stmt: Executable, size: int = BATCH
            ) -> Iterator[Sequence[Any]]:
    """The rows of `stmt`, `size` at a time, from a server-side cursor."""
    result = conn.execute(stmt.execution_options(stream_results=True, max_row_buffer=size))
    try:
        yield from result.partitions(size)
    finally:
        result.close()
