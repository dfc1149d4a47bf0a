"""GeoJSON (RFC 7946) built in PostgreSQL: one JSON text per feature, no Python object per entry.

Positions are WGS 84 longitude, latitude; there is no `crs` member; the entry's
UUID is the feature id; an entry without a place has a null geometry, as RFC 7946
allows. Properties are the public fields of `app.formats.public`, less the id and
the position, which the feature carries itself.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import ColumnElement, Select, Text, cast, func, literal
from sqlalchemy.dialects.postgresql import JSON

from ..extensions import db
from ..models import Entry
from .public import public_json

MEDIA_TYPE = "application/geo+json"
# Stored positions are rounded to 1e-7°, so 7 decimals are exact.
COORD_DECIMALS = 7
OUTSIDE_PROPERTIES = ("id", "lon", "lat")
BATCH = 2_000


def geometry_json() -> ColumnElement:
    return cast(func.ST_AsGeoJSON(Entry.geom, COORD_DECIMALS), JSON)


def feature_json() -> ColumnElement:
    """One entry as a GeoJSON Feature, as JSON text (never parsed in Python)."""
    return cast(func.json_build_object(
        literal("type"), literal("Feature"),
        literal("id"), cast(Entry.id, Text),
        literal("geometry"), geometry_json(),
        literal("properties"), public_json(exclude=OUTSIDE_PROPERTIES),
    ), Text)


def stream_features(stmt: Select, head: str, tail: str) -> Iterator[str]:
    """`head`, the features of `stmt` (one text column) joined by commas, then `tail`.

    Reads through a server-side cursor on a connection of its own, in one snapshot,
    so that the whole base streams in constant memory.
    """
    yield head
    with db.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, max_row_buffer=BATCH) \
            .execute(stmt)
        first = True
        for rows in result.partitions(BATCH):
            chunk = ",".join([row[0] for row in rows])
            yield chunk if first else "," + chunk
            first = False
        conn.rollback()
    yield tail


def collection_head(extra_members: str = "") -> str:
    """The start of a FeatureCollection; `extra_members` is JSON text like `"a":1,`."""
    return '{"type":"FeatureCollection",' + extra_members + '"features":['
