"""GeoJSON (RFC 7946) built in PostgreSQL: one JSON text per feature, no Python object per entry.

Positions are WGS 84 longitude, latitude; there is no `crs` member; the entry's
UUID is the feature id; an entry without a place has a null geometry, as RFC 7946
allows. Properties are the public fields of `app.formats.public`, less the id and
the position, which the feature carries itself.

Each entry's feature is also kept, built by PostgreSQL at write time (table
`entry_features`, migration 0007): pages and feeds read the stored text instead of
building a thousand JSON objects per request. `computed_feature_json` is the one
definition; the stored copy is made from it (`refresh_function_sql`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

from sqlalchemy import ColumnElement, Select, Text, cast, func, literal, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSON

from ..extensions import db
from ..models import Entry, entry_features
from ..query.batches import BATCH, batches, read_transaction
from .public import public_json

MEDIA_TYPE = "application/geo+json"
# Stored positions are rounded to 1e-7°, so 7 decimals are exact.
COORD_DECIMALS = 7
OUTSIDE_PROPERTIES = ("id", "lon", "lat")


def geometry_json() -> ColumnElement:
    return cast(func.ST_AsGeoJSON(Entry.geom, COORD_DECIMALS), JSON)


@functools.cache  # one expression, built once: it is the same for every query
def computed_feature_json() -> ColumnElement:
    """One entry as a GeoJSON Feature, as JSON text (never parsed in Python)."""
    return cast(func.json_build_object(
        literal("type"), literal("Feature"),
        literal("id"), cast(Entry.id, Text),
        literal("geometry"), geometry_json(),
        literal("properties"), public_json(exclude=OUTSIDE_PROPERTIES),
    ), Text)


def stored_feature_json() -> ColumnElement:
    """The feature kept for the entry (NULL if none is)."""
    return (select(entry_features.c.feature)
            .where(entry_features.c.entry_id == Entry.id)
            .correlate(Entry).scalar_subquery())


@functools.cache
def feature_json() -> ColumnElement:
    """The entry's feature as JSON text: the stored one, or built now if none is stored.

    COALESCE calls its second argument only for a row whose first is NULL, so the
    fallback costs nothing while the stored copies are complete; it is a function
    of the database (`atlas_feature`), not the whole expression, so that planning a
    page stays cheap.
    """
    return func.coalesce(stored_feature_json(), getattr(func, FEATURE_FUNCTION)(Entry.id),
                         type_=Text)


def stream_features(stmt: Select, head: str, tail: str) -> Iterator[str]:
    """`head`, the features of `stmt` (one text column) joined by commas, then `tail`.

    Reads through a server-side cursor on a connection of its own, in one snapshot,
    so that the whole base streams in constant memory. The first chunk holds the
    first batch: a view that starts the stream (app/http/streaming.py) has read rows.
    """
    separator = ""
    with db.engine.connect() as conn, read_transaction(conn):
        for rows in batches(conn, stmt, BATCH):
            yield head + separator + ",".join([row[0] for row in rows])
            head, separator = "", ","
    yield head + tail


def collection_head(extra_members: str = "") -> str:
    """The start of a FeatureCollection; `extra_members` is JSON text like `"a":1,`."""
    return '{"type":"FeatureCollection",' + extra_members + '"features":['


REFRESH_FUNCTION = "atlas_refresh_features"
FEATURE_FUNCTION = "atlas_feature"


def _computed_select_sql() -> str:
    compiled = str(select(Entry.id, computed_feature_json()).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    return "\n".join(line.rstrip() for line in compiled.splitlines())


def feature_functions_sql() -> list[str]:
    """CREATE OR REPLACE of the database's two feature functions, from `computed_feature_json`.

    `atlas_refresh_features(ids)` (re)stores the features of some entries, set-based;
    `atlas_feature(id)` builds one entry's feature. A migration that changes the
    public fields runs these again and refreshes every entry (a test checks that the
    database's functions are the ones this code would create).
    """
    select_sql = _computed_select_sql()
    one = select_sql.removeprefix("SELECT entries.id, ")
    return [f"""CREATE OR REPLACE FUNCTION public.{REFRESH_FUNCTION}(ids uuid[])
RETURNS void LANGUAGE sql SET "TimeZone" TO 'UTC' AS $function$
INSERT INTO entry_features AS stored (entry_id, feature)
{select_sql}
WHERE entries.id = ANY($1)
ON CONFLICT (entry_id) DO UPDATE SET feature = EXCLUDED.feature
WHERE stored.feature IS DISTINCT FROM EXCLUDED.feature
$function$""", f"""CREATE OR REPLACE FUNCTION public.{FEATURE_FUNCTION}(entry_id uuid)
RETURNS text LANGUAGE sql STABLE SET "TimeZone" TO 'UTC' AS $function$
SELECT {one}
WHERE entries.id = $1
$function$"""]
