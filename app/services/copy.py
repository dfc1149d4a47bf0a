"""COPY … FROM STDIN for batch inserts: one round trip per table and batch, no SQL to
parse per row. Runs on the session's own connection, inside its transaction."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import orjson

from ..extensions import db

_SPECIAL = re.compile(r"[\\\t\n\r]")
# Characters handed to psycopg2 per read of the buffer: a batch in a few reads.
COPY_CHUNK = 1 << 20
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def escape(text: str) -> str:
    # Most values have nothing to escape: one regex search, no copy.
    if _SPECIAL.search(text) is None:
        return text
    return _SPECIAL.sub(lambda m: _ESCAPES[m.group()], text)


def _text(value: Any) -> str:
    """A value in COPY's text format (\\N for NULL, backslash escapes)."""
    if value is None:
        return "\\N"
    if type(value) is str:
        return escape(value)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, int | float | uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return escape(orjson.dumps(value).decode())
    raise TypeError(f"No COPY text form for {type(value).__name__}")


def copy_line(row: Sequence[Any]) -> str:
    """One row (values in column order) as a line of COPY text, without its newline.

    Most values are text with nothing to escape, or NULL: those are handled inline
    (a function call per value was most of the cost); the rest go through _text.
    """
    search = _SPECIAL.search
    return "\t".join([(v if search(v) is None else escape(v)) if type(v) is str
                      else "\\N" if v is None else _text(v) for v in row])


def copy_lines(table: str, columns: Sequence[str], lines: list[str]) -> None:
    """COPY `lines` (from copy_line) into `table`; names are ours, never input."""
    if not lines:
        return
    buffer = io.StringIO("\n".join(lines) + "\n")
    quoted = ", ".join(f'"{c}"' for c in columns)
    raw = db.session.connection().connection
    with raw.cursor() as cursor:
        cursor.copy_expert(f'COPY "{table}" ({quoted}) FROM STDIN', buffer, size=COPY_CHUNK)
