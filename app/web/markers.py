"""The map's markers: one compact JSON document, built in PostgreSQL.

    {"kinds": ["commons", "third_place", "initiative"],
     "mode": "file", "total": 92,
     "markers": [["mutualab", 1, 3.06, 50.631, "Mutualab"], ...],  # slug, kind, lon, lat, name
     "unlocated": 26, "facets": {"kind": {...}, "tag": {...}}}

Past MAP_FILE_MAX_MARKERS located matches the file holds no markers and says
`"mode": "cells"`: the page then asks for the clusters of the tiles it shows
(app/web/map_cells.py), so a million entries never travel in one document.

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
from collections.abc import Callable
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
from ..query import EntryFilter, pyramid
from ..query.entries import conditions
from ..query.state import data_state
from . import bp
from .filtering import request_filter
from .per_state import map_count, map_facets  # the map page asks for the same counts

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


def markers_document(f: EntryFilter, file_max: int) -> bytes:
    """Every marker, or (past `file_max` located matches) the total and `"mode": "cells"`:
    the page's script then asks for the view's tiles of clusters (app/web/map_cells.py)."""
    pyramid.compact_if_piled()  # the totals and the tiles read it next
    # Totals and kind facet from one pass, shared with the map page (for a filter the
    # pyramid does not hold, each would be a scan of every match: 0.3-0.5 s at 1M).
    located = map_count(replace(f, located=True))
    body: dict = {"kinds": list(ENTRY_KINDS)}
    if located > file_max:
        body |= {"mode": "cells", "total": located, "markers": []}
    else:
        body |= {"mode": "file", "total": located, "markers": markers_rows(f)}
    body |= {"unlocated": map_count(replace(f, located=False)),
             "facets": map_facets(f).as_json()}
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


def kept_bodies(app: Flask) -> Lru:
    store = app.extensions.get("atlas_markers")
    if store is None:
        budget = int(float(app.config.get("RESPONSE_CACHE_MB", 64)) * 2**20)
        store = app.extensions["atlas_markers"] = Lru(budget, weight=Bodies.weight)
    return store


@bp.get("/map/markers.json")
def markers():
    f = request_filter()
    file_max = int(current_app.config.get("MAP_FILE_MAX_MARKERS", 20000))
    etag = hashlib.sha256(f"{data_state().token}|{file_max}|{f!r}".encode()).hexdigest()[:32]
    return cached_json(etag, lambda: markers_document(f, file_max))


def cached_json(etag: str, build: Callable[[], bytes]) -> Response:
    """A JSON answer by its ETag (from the data state): 304, or the kept body, or built."""
    response = Response(mimetype="application/json")
    response.set_etag(etag, weak=True)  # the same for the gzip and the plain body
    response.headers["Cache-Control"] = "no-cache"
    response.vary.add("Accept-Encoding")
    if request.if_none_match.contains_weak(etag):
        response.status_code = 304
        return response
    kept = kept_bodies(current_app)
    bodies = kept.get(etag, None)
    if bodies is None:
        bodies = Bodies(build())
    body = bodies.plain
    if len(body) >= GZIP_MIN_BYTES and "gzip" in request.accept_encodings:
        body = bodies.gzipped()
        response.headers["Content-Encoding"] = "gzip"
    kept.put(etag, bodies)  # again after gzip: its weight grew
    response.set_data(body)
    return response
