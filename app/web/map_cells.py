"""The map past MAP_FILE_MAX_MARKERS: the clusters of one web-map tile, counted in PostGIS.

    GET /map/cells/<z>/<x>/<y>.json?kind=…&tag=…&q=…
    {"z": 6, "x": 32, "y": 22, "total": 41210,
     "cells": [[count, lon, lat, n_kind0, n_kind1, n_kind2], ...],
     "markers": [[slug, kind, lon, lat, name], ...]}
    GET /map/blocks/<z>/<x>/<y>.json?…   (the same, for block x/y: BLOCK × BLOCK tiles)

The tile (the usual XYZ scheme of the background map, 256 px) is cut into a grid of
GRID × GRID cells (64 px, about supercluster's radius); PostgreSQL groups the
entries that match the filter (app.query's conditions, the same as the single file's)
by cell. A cell of one entry comes as a marker, exactly as the single file has it;
a cell of more comes as a cluster at its entries' mean position, with a count per
kind for its pie. Past MAX_CELL_ZOOM every entry is a marker. The cells are those
of one grid over the world at each zoom, so an entry on a tile's edge is counted in
one tile only and the counts of the tiles covering a view add up to the entries in it.

What the public sees, unfiltered, by kind or by one tag, is not grouped here up to
zoom 12: the count pyramid (app/query/pyramid.py, migration 0023) and its tag pyramid
(0029) hold it per cell already, so a tile reads its 16 cells whatever the number of
entries (`pyramid.source_for` says which filters); any other filter reads the
counts of its pass (app/query/filter_pass.py, migration 0025: the matching entries
counted once per filter and data state, for every zoom and block). All paths give the
same figures (the cell and mean functions of migration 0023); the entries are grouped
here past zoom 12, or when no pass can be stored (a read-only database).

A tile's answer depends only on the data state, the filter and z/x/y: the ETag
comes from them before anything is built and the bodies are kept as the single
file's are (app/web/markers.py). The map asks for blocks, not tiles: fewer requests
for a view, each still one statement (see BLOCK).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace

import orjson
from flask import abort
from sqlalchemy import Float, case, cast, func, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import Text

from ..extensions import db
from ..models import Entry
from ..models.vocab import ENTRY_KINDS
from ..query import EntryFilter, filter_pass, pyramid
from ..query.entries import conditions
from ..query.state import data_state
from . import bp
from .filtering import request_filter
from .markers import COORD_DIGITS, cached_json

GRID = pyramid.GRID
MAX_CELL_ZOOM = 17  # as map.js's clustering of the single file
MAX_ZOOM = 22
# Tiles a side of a block, what map.js asks for: a view of 1280 × 800 px covers some 20
# tiles but 2 to 6 blocks, so 2 to 6 requests (each one statement) rather than 20 queued
# on the server's threads; and aligned on a grid, so a block is kept and revalidated
# (ETag) as a tile is, and a pan reuses the blocks it still covers.
BLOCK = 4


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) in degrees of an XYZ tile."""
    n = 2 ** z
    west, east = x / n * 360 - 180, (x + 1) / n * 360 - 180
    north = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
    south = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 1) / n))))
    return west, south, east, north


def _round(expr):
    return cast(func.round(cast(expr, db.Numeric), COORD_DIGITS), Float)


def tile_rows(f: EntryFilter, z: int, x: int, y: int,
              span: int = 1) -> tuple[list[list], list[list]]:
    """(cells, markers) of the entries matching `f` in tile z/x/y, or in the span × span
    tiles from it (one statement either way)."""
    rows = None
    if z <= pyramid.BASE_ZOOM:
        rows = (pyramid.tile_cells(f, z, x, y, span) if pyramid.serves(f)
                else filter_pass.tile_cells(f, z, x, y, span))
    if rows is None:
        rows = scanned_rows(f, z, x, y, span)
    cells, markers = [], []
    kinds = len(ENTRY_KINDS)
    for row in rows:
        total = row[2]
        if total == 1 and row[5 + kinds] is not None:
            markers.append(list(row[5 + kinds:]))
        else:
            cells.append([total, row[3], row[4], *row[5:5 + kinds]])
    markers.sort(key=lambda m: m[0])
    return cells, markers


def scanned_rows(f: EntryFilter, z: int, x: int, y: int, span: int = 1) -> list[tuple]:
    """The rows of pyramid.tile_cells, grouped from the matching entries of the tiles."""
    west, _, _, north = tile_bounds(z, x, y)
    _, south, east, _ = tile_bounds(z, x + span - 1, y + span - 1)
    lon, lat = func.ST_X(Entry.geom), func.ST_Y(Entry.geom)
    # Cells of the whole world's grid at this zoom (GRID × GRID a tile): an entry on a
    # tile's edge falls in exactly one cell, the same whichever tile asks, and the same
    # as the count pyramid's (the SQL functions of migration 0023). The box test (&&,
    # inclusive, from the spatial index's statistics: a good estimate, so a hash
    # aggregate) picks candidates; the cells of the neighbours are left out below.
    side = GRID << z
    gx, gy = func.atlas_cell_x(lon, side), func.atlas_cell_y(lat, side)
    keys = [gx, gy, Entry.id] if z > MAX_CELL_ZOOM else [gx, gy]
    count = func.count()
    kinds = [func.count().filter(Entry.kind == k) for k in ENTRY_KINDS]
    kind_index = func.array_position(literal(list(ENTRY_KINDS), ARRAY(Text)),
                                     func.min(Entry.kind.collate("C"))) - 1
    # A cluster sits at its entries' mean position, from sums in 1e-7 degrees as the
    # pyramid keeps them (so both give the same figures); a lone entry at its own.
    mean_lon = func.atlas_cell_mean(func.sum(func.atlas_cell_q(lon)), count)
    mean_lat = func.atlas_cell_mean(func.sum(func.atlas_cell_q(lat)), count)
    stmt = (select(gx, gy, count,
                   case((count == 1, _round(func.min(lon))), else_=mean_lon),
                   case((count == 1, _round(func.min(lat))), else_=mean_lat), *kinds,
                   # byte order ("C"): a singleton's value at memcmp's cost, not the locale's
                   *(case((count == 1, value)) for value in (
                       func.min(Entry.slug.collate("C")), kind_index, _round(func.min(lon)),
                       _round(func.min(lat)), func.min(Entry.name.collate("C")))))
            .where(*conditions(replace(f, located=True)),
                   Entry.geom.op("&&")(func.ST_MakeEnvelope(west, south, east, north, 4326)))
            .group_by(*keys))
    first_x, first_y = x * GRID, y * GRID
    # The planner cannot guess how few cells there are (it takes one per row) and
    # would sort every entry of the tile, on disk, where a hash aggregate needs a few
    # cells' worth of memory; and JIT compiling costs more than it saves here (0.3 s).
    # Only for this statement; the cells are put in order here.
    db.session.execute(text("SET LOCAL enable_sort = off; SET LOCAL jit = off"))
    try:
        rows = sorted(db.session.execute(stmt).all(), key=lambda r: (r[0], r[1]))
    finally:
        db.session.execute(text("RESET enable_sort; RESET jit"))
    # A neighbour's cell, on the box's edge, is left out.
    width = GRID * span
    return [tuple(r) for r in rows
            if first_x <= r[0] < first_x + width and first_y <= r[1] < first_y + width]


def tile_document(f: EntryFilter, z: int, x: int, y: int, span: int = 1,
                  head: dict | None = None) -> bytes:
    """The JSON of tile z/x/y (or of its span × span square), `head` first."""
    pyramid.compact_if_piled()
    cells, markers = tile_rows(f, z, x, y, span)
    total = sum(c[0] for c in cells) + len(markers)
    return orjson.dumps({**(head or {"z": z, "x": x, "y": y}), "total": total,
                         "cells": cells, "markers": markers})


def block_span(z: int) -> int:
    """Tiles a side of a block at zoom z: BLOCK, or the whole world when it is smaller."""
    return min(BLOCK, 2 ** z)


@bp.get("/map/cells/<int:z>/<int:x>/<int:y>.json")
def map_cells(z: int, x: int, y: int):
    if not (0 <= z <= MAX_ZOOM and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
        abort(404)
    f = request_filter()
    key = f"{data_state().token}|cells|{z}/{x}/{y}|{f!r}"
    etag = hashlib.sha256(key.encode()).hexdigest()[:32]
    return cached_json(etag, lambda: tile_document(f, z, x, y))


@bp.get("/map/blocks/<int:z>/<int:x>/<int:y>.json")
def map_blocks(z: int, x: int, y: int):
    """The cells of block x/y at zoom z: its BLOCK × BLOCK tiles in one answer (the tile
    document, with x and y the block's; map.js asks for these)."""
    span = block_span(z)
    blocks = 2 ** z // span
    if not (0 <= z <= MAX_ZOOM and 0 <= x < blocks and 0 <= y < blocks):
        abort(404)
    f = request_filter()
    key = f"{data_state().token}|blocks|{z}/{x}/{y}|{f!r}"
    etag = hashlib.sha256(key.encode()).hexdigest()[:32]
    head = {"z": z, "x": x, "y": y, "span": span}
    return cached_json(etag, lambda: tile_document(f, z, x * span, y * span, span, head))
