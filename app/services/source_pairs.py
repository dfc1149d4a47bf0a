"""Many (origin, external id) pairs looked up at once, as two arrays joined to the
table's unique key.

A row-value IN list of a batch's 500 pairs cost PostgreSQL about 300 ms to plan (an OR
of 500 index conditions) and 60–150 ms to run on 100,000 sources, once per batch
request of a mirror's push (38.6 s of a 100,000-entry push); the two arrays cost under
10 ms and one parameter each.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from sqlalchemy import text

from ..extensions import db

_SQL = {table: text(
    f"SELECT t.id, t.origin, t.external_id FROM {table} AS t "  # noqa: S608 (our constants)
    "JOIN unnest(CAST(:origins AS text[]), CAST(:ids AS text[])) AS u(origin, external_id) "
    "ON t.origin = u.origin AND t.external_id = u.external_id")
    for table in ("sources", "source_exclusions")}


def matching(table: Literal["sources", "source_exclusions"],
             pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """The rows of `table` holding any of `pairs`: (origin, external id) -> the row's id."""
    pairs = sorted(set(pairs))
    if not pairs:
        return {}
    rows = db.session.execute(_SQL[table], {"origins": [o for o, _ in pairs],
                                            "ids": [x for _, x in pairs]})
    return {(origin, external_id): key for key, origin, external_id in rows}
