"""The map's markers: one compact JSON document, built in PostgreSQL.

    {"kinds": ["commons", "third_place", "initiative"],
     "markers": [["mutualab", 1, 3.06, 50.631, "Mutualab"], ...],  # slug, kind, lon, lat, name
     "unlocated": 26, "facets": {"kind": {...}, "tag": {...}}}

Arrays, not objects, positions rounded to 1e-5° (about a metre), serialised by
orjson without spaces: about 25 bytes an entry besides its slug and name (80 B in
all for typical names, 15 B gzipped: see bench/). The filter is
app.query's (kind, tag, q, bbox…), so the map shows what the directory and the
API list. `unlocated` counts the matching entries that have no place (digital
commons), for the list's footnote.

The ETag comes from the data state and the filter, before anything is built: a
revalidation costs the state's index look-ups, and the plain and gzipped bodies are
kept per data state (within the response cache's budget), so the document is built
once per change of the data, not once per visitor.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import replace

import orjson
from flask import Flask, Response, current_app, request
from sqlalchemy import ColumnElement, Float, cast, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Text

from ..extensions import db
from ..lru import Lru
from ..models import Entry
from ..models.vocab import ENTRY_KINDS
from ..query import EntryFilter, count_entries, facet_counts
from ..query.entries import conditions
from ..query.state import data_state
from . import bp
from .filtering import request_filter

COORD_DIGITS = 5
GZIP_MIN_BYTES = 1024


def _rounded(expr: ColumnElement) -> ColumnElement:
    return cast(func.round(cast(expr, db.Numeric), COORD_DIGITS), Float)


def markers_rows(f: EntryFilter) -> list[tuple]:
    """[slug, kind index, lon, lat, name] of the located entries matching `f`, by slug."""
    kinds = literal(list(ENTRY_KINDS), ARRAY(Text))
    stmt = (select(Entry.slug,
                   func.array_position(kinds, Entry.kind) - 1,
                   _rounded(func.ST_X(Entry.geom)),
                   _rounded(func.ST_Y(Entry.geom)),
                   Entry.name)
            .where(*conditions(replace(f, located=True)))
            # A stable order (ETag) that costs no sort: the slug's unique index.
            .order_by(Entry.slug))
    return [tuple(row) for row in db.session.execute(stmt)]


def markers_document(f: EntryFilter) -> bytes:
    body = {
        "kinds": list(ENTRY_KINDS),
        "markers": markers_rows(f),
        "unlocated": count_entries(replace(f, located=False)),
        "facets": facet_counts(f).as_json(),
    }
    return orjson.dumps(body)


class Bodies:
    """One document, plain and (once asked for) gzipped."""

    __slots__ = ("plain", "zipped")

    def __init__(self, plain: bytes) -> None:
        self.plain = plain
        self.zipped: bytes | None = None

    def gzipped(self) -> bytes:
        if self.zipped is None:
            self.zipped = gzip.compress(self.plain, compresslevel=6, mtime=0)
        return self.zipped

    def weight(self) -> int:
        return len(self.plain) + len(self.zipped or b"")


def _kept(app: Flask) -> Lru:
    store = app.extensions.get("atlas_markers")
    if store is None:
        budget = int(float(app.config.get("RESPONSE_CACHE_MB", 64)) * 2**20)
        store = app.extensions["atlas_markers"] = Lru(budget, weight=Bodies.weight)
    return store


@bp.get("/map/markers.json")
def markers():
    f = request_filter()
    etag = hashlib.sha256(f"{data_state().token}|{f!r}".encode()).hexdigest()[:32]
    response = Response(mimetype="application/json")
    response.set_etag(etag, weak=True)  # the same for the gzip and the plain body
    response.headers["Cache-Control"] = "no-cache"
    response.vary.add("Accept-Encoding")
    if request.if_none_match.contains_weak(etag):
        response.status_code = 304
        return response
    kept = _kept(current_app)
    bodies = kept.get(etag, None)
    if bodies is None:
        bodies = Bodies(markers_document(f))
    body = bodies.plain
    if len(body) >= GZIP_MIN_BYTES and "gzip" in request.accept_encodings:
        body = bodies.gzipped()
        response.headers["Content-Encoding"] = "gzip"
    kept.put(etag, bodies)  # again after gzip: its weight grew
    response.set_data(body)
    return response
