"""The address service's answers kept in the database (geocode_answers), per question."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import text

from ..extensions import db

GET_SQL = text("SELECT query, answer FROM geocode_answers "
               "WHERE kind = :kind AND query = ANY(CAST(:queries AS text[])) "
               "AND fetched_at > now() - make_interval(days => :days)")
PUT_SQL = text("""
INSERT INTO geocode_answers (kind, query, answer)
SELECT :kind, q.query, NULLIF(q.answer, 'null'::jsonb)
FROM jsonb_each(CAST(:answers AS jsonb)) AS q(query, answer)
ON CONFLICT (kind, query) DO UPDATE SET answer = EXCLUDED.answer, fetched_at = now()
""")


class DatabaseCache:
    """Reads and writes through the app's session; the caller commits. An answer older
    than `max_age_days` is asked again (the national base changes every week: a new
    street, a miss that is now found)."""

    def __init__(self, max_age_days: int = 30) -> None:
        self.max_age_days = max_age_days

    def get_many(self, kind: str, keys: Iterable[str]) -> dict[str, dict[str, Any] | None]:
        keys = list(keys)
        if not keys:
            return {}
        return {row.query: row.answer
                for row in db.session.execute(GET_SQL, {"kind": kind, "queries": keys,
                                                        "days": self.max_age_days})}

    def put_many(self, kind: str, answers: Mapping[str, dict[str, Any] | None]) -> None:
        if answers:
            import json

            # A null answer is stored as SQL NULL: "asked, nothing found".
            db.session.execute(PUT_SQL, {"kind": kind, "answers": json.dumps(answers)})


def service() -> Any:
    """The app's address service, with the database cache."""
    from flask import current_app

    from .client import AddressService

    return AddressService.from_config(
        current_app.config, DatabaseCache(current_app.config["GEOCODER_CACHE_DAYS"]))
