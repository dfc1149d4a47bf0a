"""The map past MAP_FILE_MAX_MARKERS: the clusters of one web-map tile, counted in PostGIS.

    GET /map/cells/<z>/<x>/<y>.json?kind=…&tag=…&q=…
    {"z": 6, "x": 32, "y": 22, "total": 41210,
     "cells": [[count, lon, lat, n_kind0, n_kind1, n_kind2], ...],
     "markers": [[slug, kind, lon, lat, name], ...]}

The tile (the usual XYZ scheme of the background map, 256 px) is cut into a grid of
GRID × GRID cells (64 px, about supercluster's radius); PostgreSQL groups the
entries that match the filter (app.query's conditions, the same as the single file's)
by cell. A cell of one entry comes as a marker, exactly as the single file has it;
a cell of more comes as a cluster at its entries' mean position, with a count per
kind for its pie. Past MAX_CELL_ZOOM every entry is a marker. Tiles are half-open
(west and north edges in, east and south out), so an entry is counted once and the
counts of the tiles covering a view add up to the entries in it.

A tile's answer depends only on the data state, the filter and z/x/y: the ETag
comes from them before anything is built and the bodies are kept as the single
file's are (app/web/markers.py).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace

import orjson
from flask import abort
from sqlalchemy import Float, Integer, case, cast, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Text

from ..extensions import db
from ..models import Entry
from ..models.vocab import ENTRY_KINDS
from ..query import EntryFilter
from ..query.entries import conditions
from ..query.state import data_state
from . import bp
from .filtering import request_filter
from .markers import COORD_DIGITS, cached_json

GRID = 4
MAX_CELL_ZOOM = 17  # as map.js's clustering of the single file
MAX_ZOOM = 22


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) in degrees of an XYZ tile."""
    n = 2 ** z
    west, east = x / n * 360 - 180, (x + 1) / n * 360 - 180
    north = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
    south = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 1) / n))))
    return west, south, east, north


def _round(expr):
    return cast(func.round(cast(expr, db.Numeric), COORD_DIGITS), Float)


def tile_rows(f: EntryFilter, z: int, x: int, y: int) -> tuple[list[list], list[list]]:
    """(cells, markers) of the entries matching `f` in tile z/x/y."""
    n = 2 ** z
    west, south, east, north = tile_bounds(z, x, y)
    lon, lat = func.ST_X(Entry.geom), func.ST_Y(Entry.geom)
    inside = [Entry.geom.op("&&")(func.ST_MakeEnvelope(west, south, east, north, 4326)),
              lon >= west, lat <= north,
              # the last column and row keep their outer edge
              (lon <= east) if x == n - 1 else (lon < east),
              (lat >= south) if y == n - 1 else (lat > south)]
    if z > MAX_CELL_ZOOM:
        keys = [Entry.id]
    else:
        # Web Mercator's y, linear across the tile: ln(tan(π/4 + φ/2)).
        merc = func.ln(func.tan(math.pi / 4 + func.radians(lat) / 2))
        top = math.pi * (1 - 2 * y / n)
        span = 2 * math.pi / n
        keys = [func.least(GRID - 1, cast(func.floor((lon - west) / (east - west) * GRID),
                                          Integer)),
                func.least(GRID - 1, cast(func.floor((top - merc) / span * GRID), Integer))]
    count = func.count()
    kinds = [func.count().filter(Entry.kind == k) for k in ENTRY_KINDS]
    kind_index = func.array_position(literal(list(ENTRY_KINDS), ARRAY(Text)),
                                     func.min(Entry.kind.collate("C"))) - 1
    stmt = (select(count, _round(func.avg(lon)), _round(func.avg(lat)), *kinds,
                   # byte order ("C"): a singleton's value at memcmp's cost, not the locale's
                   case((count == 1, func.min(Entry.slug.collate("C")))), kind_index,
                   case((count == 1, func.min(Entry.name.collate("C")))))
            .where(*conditions(replace(f, located=True)), *inside)
            .group_by(*keys).order_by(*keys))
    cells, markers = [], []
    for row in db.session.execute(stmt):
        total, x_, y_ = row[0], row[1], row[2]
        if total == 1:
            markers.append([row[-3], row[-2], x_, y_, row[-1]])
        else:
            cells.append([total, x_, y_, *row[3:3 + len(ENTRY_KINDS)]])
    markers.sort(key=lambda m: m[0])
    return cells, markers


def tile_document(f: EntryFilter, z: int, x: int, y: int) -> bytes:
    cells, markers = tile_rows(f, z, x, y)
    total = sum(c[0] for c in cells) + len(markers)
    return orjson.dumps({"z": z, "x": x, "y": y, "total": total,
                         "cells": cells, "markers": markers})


@bp.get("/map/cells/<int:z>/<int:x>/<int:y>.json")
def map_cells(z: int, x: int, y: int):
    if not (0 <= z <= MAX_ZOOM and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
        abort(404)
    f = request_filter()
    key = f"{data_state().token}|cells|{z}/{x}/{y}|{f!r}"
    etag = hashlib.sha256(key.encode()).hexdigest()[:32]
    return cached_json(etag, lambda: tile_document(f, z, x, y))
