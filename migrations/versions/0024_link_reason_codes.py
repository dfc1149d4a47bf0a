"""Link reasons by code: identity_links.reason and sources.linked_reason become JSON
(`{"code": "near", "meters": 12, "name": "La Coroutine", "similarity": 0.74}`, see
app/services/link_reasons.py), and entries get an index on their SIRET (the twin rule's
"same SIRET", app/services/twin_rule.py).

The English sentences recorded before are read once, here and nowhere else, with the
patterns of the code that wrote them (a name was written as Python's repr, read back
with ast.literal_eval); a sentence none of them reads is kept as `{"code": "free",
"text": ...}`. Going down writes the sentences again from the codes.

Revision ID: 0024
Revises: 0023
"""

import ast
import json
import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_NAME = r"(?P<name>'.*'|\".*\")"
PATTERNS: list[tuple[re.Pattern[str], Callable[[dict[str, str]], dict[str, Any]]]] = [
    (re.compile(rf"^(?P<meters>\d+) m from {_NAME}, similar name "
                r"\(similarity (?P<sim>\d+(?:\.\d+)?)\)$", re.S),
     lambda m: {"code": "near", "meters": int(m["meters"]), "name": ast.literal_eval(m["name"]),
                "similarity": float(m["sim"])}),
    (re.compile(rf"^same website as {_NAME}$", re.S),
     lambda m: {"code": "website", "name": ast.literal_eval(m["name"])}),
    (re.compile(r"^the same (?P<kind>entry|sheet) \(known here as (?P<id>[^)]+)\)$"),
     lambda m: {"code": f"known_{m['kind']}", "id": m["id"]}),
    (re.compile(r"^the same source (?P<origin>\S+) (?P<external_id>.+)$", re.S),
     lambda m: {"code": "same_source", "origin": m["origin"], "external_id": m["external_id"]}),
]
FIXED = {"the same entry, title and meeting date": "same_sheet",
         "the demo entry's stable id": "demo_entry",
         "the demo sheet's stable id": "demo_sheet"}

# The English of each code when this migration was written (going down).
ENGLISH = {
    "near": "{meters} m from {name!r}, similar name (similarity {similarity:.2f})",
    "website": "same website as {name!r}",
    "siret": "same SIRET ({siret}) as {name!r}",
    "known_entry": "the same entry (known here as {id})",
    "known_sheet": "the same sheet (known here as {id})",
    "same_source": "the same source {origin} {external_id}",
    "same_sheet": "the same entry, title and meeting date",
    "demo_entry": "the demo entry's stable id",
    "demo_sheet": "the demo sheet's stable id",
    "free": "{text}",
}
COLUMNS = (("identity_links", "reason"), ("sources", "linked_reason"))


def read(sentence: str) -> dict[str, Any]:
    """The code and parameters of a sentence recorded before 0023."""
    if sentence in FIXED:
        return {"code": FIXED[sentence]}
    for pattern, build in PATTERNS:
        found = pattern.match(sentence)
        if found:
            try:
                return build(found.groupdict())
            except (ValueError, SyntaxError):
                break
    return {"code": "free", "text": sentence}


def write(reason: dict[str, Any]) -> str:
    params = {k: v for k, v in reason.items() if k != "code"}
    try:
        return ENGLISH[reason["code"]].format(**params)[:300]
    except (KeyError, ValueError, IndexError):
        return str(reason.get("code") or "")[:300]


def upgrade() -> None:
    conn = op.get_bind()
    for table, column in COLUMNS:
        rows = conn.execute(sa.text(
            f"SELECT id, {column} FROM {table} "  # noqa: S608 (names from COLUMNS)
            f"WHERE {column} IS NOT NULL")).all()
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE jsonb "
                   f"USING CASE WHEN {column} IS NULL THEN NULL "
                   f"ELSE jsonb_build_object('code', 'free', 'text', {column}) END")
        converted = [{"id": row_id, "reason": json.dumps(read(text))}
                     for row_id, text in rows if read(text)["code"] != "free"]
        if converted:
            conn.execute(sa.text(f"UPDATE {table} SET {column} = "  # noqa: S608
                                 "CAST(:reason AS jsonb) WHERE id = :id"), converted)
    op.create_index("ix_entries_siret", "entries", ["siret"],
                    postgresql_where=sa.text("siret IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_entries_siret", table_name="entries")
    conn = op.get_bind()
    for table, column in COLUMNS:
        rows = conn.execute(sa.text(
            f"SELECT id, {column} FROM {table} "  # noqa: S608 (names from COLUMNS)
            f"WHERE {column} IS NOT NULL")).all()
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE varchar(300) "
                   f"USING left({column} ->> 'code', 300)")
        sentences = [{"id": row_id, "reason": write(reason)} for row_id, reason in rows]
        if sentences:
            conn.execute(sa.text(f"UPDATE {table} SET {column} = "  # noqa: S608
                                 ":reason WHERE id = :id"), sentences)
