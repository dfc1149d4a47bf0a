"""Keyset pagination for every list: opaque cursors and the WHERE clause after/before them.

A page is asked for with the sort keys of the last row seen, never an OFFSET, so
that page 1,000 costs what page 1 costs (the sort keys end with the id, so the
order is total). A cursor is url-safe base64 of JSON: the sort name, the
direction and the key values; it is opaque to clients.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, and_, cast, literal, or_, tuple_
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from ..extensions import db
from .entries import order_by
from .filters import EntryFilter, ParameterError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1_000
MAX_CURSOR_LENGTH = 2_000


@dataclass(frozen=True)
class SortKey:
    expr: ColumnElement
    descending: bool = False


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: strictly after (or, backwards, before) these key values."""

    sort: str
    values: tuple[Any, ...]
    backwards: bool = False

    def encode(self) -> str:
        payload = {"s": self.sort, "k": [_to_json(v) for v in self.values]}
        if self.backwards:
            payload["b"] = 1
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    @classmethod
    def decode(cls, raw: str, sort: str, keys: Sequence[SortKey],
               name: str = "cursor") -> Cursor:
        """Read a cursor made by `encode` for the same sort, or raise ParameterError."""
        bad = ParameterError(name, "not a cursor of this list (take it from a `next` or "
                                   "`prev` link)")
        if len(raw) > MAX_CURSOR_LENGTH:
            raise bad
        try:
            data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise bad from None
        if (not isinstance(data, dict) or data.get("s") != sort
                or not isinstance(data.get("k"), list) or len(data["k"]) != len(keys)):
            raise bad
        try:
            values = tuple(_from_json(k.expr, v) for k, v in zip(keys, data["k"], strict=True))
        except (TypeError, ValueError, AttributeError):
            raise bad from None
        return cls(sort, values, bool(data.get("b")))


def parse_limit(raw: str | None, name: str = "limit", default: int = DEFAULT_LIMIT,
                maximum: int = MAX_LIMIT) -> int:
    """A page size: 1 or more; above the maximum it is clamped (as OGC API requires)."""
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ParameterError(name, f"{raw!r} is not an integer") from None
    if value < 1:
        raise ParameterError(name, "must be 1 or more")
    return min(value, maximum)


def sort_keys(f: EntryFilter, sort: str) -> list[SortKey]:
    """The sort of `app.query.order_by`, as (expression, direction) pairs."""
    keys = []
    for clause in order_by(f, sort):
        if isinstance(clause, UnaryExpression) and clause.modifier is operators.desc_op:
            keys.append(SortKey(clause.element, True))
        elif isinstance(clause, UnaryExpression) and clause.modifier is operators.asc_op:
            keys.append(SortKey(clause.element, False))
        else:
            keys.append(SortKey(clause, False))
    return keys


def keyset_condition(keys: Sequence[SortKey], values: Sequence[Any],
                     backwards: bool = False) -> ColumnElement[bool]:
    """Rows strictly after `values` in the order of `keys` (before them when backwards).

    One direction for every key: a row comparison, which a composite index serves.
    Mixed directions: the expanded form (k1 > v1) OR (k1 = v1 AND k2 > v2) …
    """
    bound = [_bind(k.expr, v) for k, v in zip(keys, values, strict=True)]
    directions = {k.descending != backwards for k in keys}
    if len(directions) == 1:
        left, right = tuple_(*(k.expr for k in keys)), tuple_(*bound)
        return left < right if directions.pop() else left > right
    alternatives = []
    for i, key in enumerate(keys):
        equal = [keys[j].expr == bound[j] for j in range(i)]
        step = key.expr < bound[i] if key.descending != backwards else key.expr > bound[i]
        alternatives.append(and_(*equal, step))
    return or_(*alternatives)


@dataclass
class Page:
    """Rows of one page, and the cursors of the pages around it (None: there is none)."""

    rows: list[Any]
    next: Cursor | None
    prev: Cursor | None


def fetch_page(stmt: Select, keys: Sequence[SortKey], sort: str, limit: int,
               cursor: Cursor | None) -> Page:
    """Run `stmt` (its columns, WHERE, no ORDER BY) for one page; fetch limit+1 to see ahead.

    The rows are `stmt`'s columns followed by the key values.
    """
    backwards = cursor is not None and cursor.backwards
    # UUID keys read as text: only two rows' keys become cursors, and a UUID object
    # per row of a page of 1,000 costs more than the page's SQL.
    key_columns = [(cast(k.expr, Text) if _python_type(k.expr) is uuid.UUID else k.expr)
                   .label(f"_k{i}") for i, k in enumerate(keys)]
    stmt = stmt.add_columns(*key_columns)
    if cursor is not None:
        stmt = stmt.where(keyset_condition(keys, cursor.values, backwards))
    ordering = [k.expr.desc() if k.descending != backwards else k.expr.asc() for k in keys]
    # Core, not the ORM: the rows are columns, and a page may have a thousand.
    rows = db.session.connection().execute(stmt.order_by(*ordering).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    width = len(keys)

    def key_of(row: Any, to_back: bool) -> Cursor:
        return Cursor(sort, tuple(row[len(row) - width:]), to_back)

    if not rows:
        return Page(rows, None, None)
    if backwards:
        nxt = key_of(rows[-1], False)
        prev = key_of(rows[0], True) if more else None
    else:
        nxt = key_of(rows[-1], False) if more else None
        prev = key_of(rows[0], True) if cursor is not None else None
    return Page(rows, nxt, prev)


def _to_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _from_json(expr: ColumnElement, value: Any) -> Any:
    """A cursor value back to its key's Python type; TypeError/ValueError if it is not one."""
    if value is None or isinstance(value, bool | list | dict):
        raise TypeError(value)
    python_type = _python_type(expr)
    if python_type is object:  # an untyped SQL function: JSON scalars as they are
        if isinstance(value, str) and "\x00" in value:
            raise ValueError(value)
        return value
    if python_type is datetime:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError(value)
        return parsed
    if python_type is uuid.UUID:
        return uuid.UUID(value)
    if python_type is int:
        if not isinstance(value, int):
            raise TypeError(value)
        if not 0 <= value < 2**63:
            raise ValueError(value)
        return value
    if python_type is float:
        if not isinstance(value, int | float):
            raise TypeError(value)
        return float(value)
    if not isinstance(value, str) or "\x00" in value:
        raise TypeError(value)
    return value


def _python_type(expr: ColumnElement) -> type:
    try:
        return expr.type.python_type
    except NotImplementedError:
        return object


def _bind(expr: ColumnElement, value: Any) -> ColumnElement:
    if _python_type(expr) is object:
        return literal(value)
    return literal(value, type_=expr.type)
