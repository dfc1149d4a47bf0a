"""Normalise the text stored before input was normalised (app/normalise.py).

Forms stored a browser's CRLF line ends as sent, programs decomposed accents and
trailing blanks: the same words spelt differently, so saving an unchanged form wrote
a revision and a mirror saw a change. Every input now passes through `clean_text`;
this applies it to what is already stored, with plain UPDATEs (only of the values it
changes) and no revision: nobody edited anything. The stored features (migration
0007's triggers) and the change feed follow the UPDATEs, so mirrors get the text too.
The same texts in the revisions' snapshots and the proposals' content are normalised
alike, so that the history and the reviews show no change nobody made.

It uses app.normalise itself, so that stored text is exactly what input gives; a later
change of that rule needs a migration of its own. The downgrade leaves the text as it
is: the old spelling is not worth restoring.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from app.normalise import clean_text

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH = 1_000
# table, key type, text columns editors type, the ones of them that are required.
TABLES = (
    ("entries", "uuid", ("name", "summary", "description", "street", "postcode", "city",
                         "opening_hours", "licence"), {"name"}),
    ("evaluations", "uuid", ("title", "authors"), {"title"}),
    ("answers", "integer", ("strengths", "limits", "stakes"), set()),
    ("proposals", "integer", ("comment", "review_comment"), set()),
)


ENTRY_TEXTS, SHEET_TEXTS, ANSWER_TEXTS = TABLES[0][2], TABLES[1][2], TABLES[2][2]
# Only JSON whose text may change is read: a CR, blanks before a line end, not NFC
# (values were always stripped as a whole). The JSON text escapes CR, LF and tab.
JSON_SUSPECT = (r"(strpos({c}::text, '\r') > 0 OR strpos({c}::text, ' \n') > 0 "
                r"OR strpos({c}::text, '\t\n') > 0 OR NOT ({c}::text IS NFC NORMALIZED))")


def upgrade() -> None:
    conn = op.get_bind()
    for table, key_type, columns, required in TABLES:
        _normalise_table(conn, table, key_type, columns, required)
    _normalise_json(conn, "revisions", "snapshot", _snapshot)
    _normalise_json(conn, "proposals", "data", lambda _kind, data: _texts(
        data, ENTRY_TEXTS, {"name"}))


def _texts(data: Any, names: tuple[str, ...], required: set[str]) -> Any:
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for name in names:
        value = out.get(name)
        if isinstance(value, str):
            clean = clean_text(value)
            if clean is not None or name not in required:
                out[name] = clean
    return out


def _snapshot(kind: str, data: Any) -> Any:
    if kind == "entry":
        return _texts(data, ENTRY_TEXTS, {"name"})
    data = _texts(data, SHEET_TEXTS, {"title"})
    if isinstance(data, dict) and isinstance(data.get("answers"), dict):
        data["answers"] = {key: _texts(answer, ANSWER_TEXTS, set())
                           for key, answer in data["answers"].items()}
    return data


def _normalise_json(conn: sa.Connection, table: str, column: str,
                    fix: Callable[[str, Any], Any]) -> None:
    """The texts inside a JSON column, for the rows whose JSON text looks affected."""
    kind = "entity_type" if table == "revisions" else "'entry'"
    suspect = JSON_SUSPECT.format(c=column)
    after = 0
    while True:
        rows = conn.execute(sa.text(
            f"SELECT id, {kind}, {column} FROM {table} "  # noqa: S608 (names from here)
            f"WHERE id > :after AND {column} IS NOT NULL AND {suspect} "
            "ORDER BY id LIMIT :limit"), {"after": after, "limit": BATCH}).all()
        if not rows:
            return
        after = rows[-1][0]
        ids, values = [], []
        for key, entity, data in rows:
            clean = fix(entity, data)
            if clean != data:
                ids.append(key)
                values.append(json.dumps(clean, ensure_ascii=False))
        if ids:
            conn.execute(sa.text(
                f"UPDATE {table} AS t SET {column} = CAST(u.value AS jsonb) "  # noqa: S608
                "FROM unnest(CAST(:ids AS integer[]), CAST(:values AS text[])) "
                "AS u(id, value) WHERE t.id = u.id"), {"ids": ids, "values": values})


def _normalise_table(conn: sa.Connection, table: str, key_type: str,
                     columns: tuple[str, ...], required: set[str]) -> None:
    """Read the rows in key order, a batch at a time; write back what `clean_text`
    changes, one UPDATE per column and batch (a statement-level trigger runs once)."""
    listed = ", ".join(columns)
    after = None
    while True:
        rows = conn.execute(sa.text(
            f"SELECT id, {listed} FROM {table} "  # noqa: S608 (names from TABLES above)
            + (f"WHERE id > CAST(:after AS {key_type}) " if after is not None else "")
            + "ORDER BY id LIMIT :limit"), {"after": after, "limit": BATCH}).all()
        if not rows:
            return
        after = str(rows[-1][0])
        for index, column in enumerate(columns, start=1):
            ids, values = [], []
            for row in rows:
                value = row[index]
                if value is None:
                    continue
                clean = clean_text(value)
                if clean is None and column in required:
                    continue  # a required text of blanks only: left for an editor
                if clean != value:
                    ids.append(str(row[0]) if key_type == "uuid" else row[0])
                    values.append(clean)
            if ids:
                conn.execute(sa.text(
                    f"UPDATE {table} AS t SET {column} = u.value "  # noqa: S608
                    f"FROM unnest(CAST(:ids AS {key_type}[]), CAST(:values AS text[])) "
                    f"AS u(id, value) WHERE t.id = u.id "
                    f"AND t.{column} IS DISTINCT FROM u.value"),
                    {"ids": ids, "values": values})


def downgrade() -> None:
    pass
