"""The SQL statements an engine sends while a block runs: for tests that a code path
is set-based (one statement a batch) or reads no more than it should."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import event
from sqlalchemy.engine import Engine


class Sent(NamedTuple):
    sql: str
    parameters: Any


@contextmanager
def statements_sent(engine: Engine) -> Iterator[list[Sent]]:
    """Every statement `engine` sends inside the block, in order, with its parameters."""
    sent: list[Sent] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        sent.append(Sent(statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)
