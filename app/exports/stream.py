"""Reading an export: one consistent snapshot, rows in batches through a server-side cursor.

An export never holds the base in memory: PostgreSQL builds each row, a named
cursor hands them over a batch at a time, and the writer turns each batch into
text before asking for the next. Every table of an export (the entries, then the
relations, sheets… of a data package) and its licence and sources are read in
one REPEATABLE READ transaction, so they agree with each other. Writers put their
first batch of rows in their first chunk (see app/http/streaming.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection

from ..extensions import db
from ..query.batches import BATCH, batches, read_transaction

__all__ = ["BATCH", "batches", "snapshot"]


@contextmanager
def snapshot() -> Iterator[Connection]:
    """A read-only connection of its own, in one snapshot, rolled back at the end."""
    with db.engine.connect() as conn:
        conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with read_transaction(conn):
            yield conn
