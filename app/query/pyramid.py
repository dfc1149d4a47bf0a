"""The count pyramid (migration 0023): public entries per map cell, zoom 0 to BASE_ZOOM;
and the tag pyramid (migration 0029): the same per tag, whose zoom 0 is the tag facets.

The unfiltered map (or filtered by kind, place, or one tag) reads its clusters, totals
and kind counts here instead of grouping up to a million entries. `map_cells` holds
every zoom as of the last compaction, `tag_cells` every TAG_ZOOMS one; the `*_changes`
tables the zoom-BASE_ZOOM changes written since by the triggers on `entries` and
`entry_tags`; each read adds both in one statement, so it sees one snapshot, the same
as the entries'. What the public may see is the triggers' rule: published and not
deleted (app/services/policy.py `public_entry`), which is also `EntryFilter()`'s, hence
`source_for`, the one rule that says which filters are read here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import replace

from sqlalchemy import case, func, select, true, union_all
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Select, Subquery

from ..extensions import db
from ..models import Entry, Tag, map_cell_changes, map_cells, tag_cell_changes, tag_cells
from ..models.vocab import ENTRY_KINDS
from .entries import conditions
from .filters import EntryFilter

log = logging.getLogger(__name__)

BASE_ZOOM = 12  # as migration 0023
GRID = 4  # cells a tile side, as app/web/map_cells.py and migration 0023
PILE = 5000  # changes past which a reader folds them in (atlas_map_cells_compact)
# The same for the tag pyramid: a tag's block reads its own changes by index and the facets
# sum a few thousand rows, while folding costs some 50 ms per 1,000 changes (seven zooms;
# 5,000 entries given three tags each log 15,000): left to the `map-counts` job longer.
TAG_PILE = 20_000
FOLD = 50_000  # changes folded in at most by one reader: a huge statement's over several
EDGE = 1e-6  # degrees around a cell's box, for floating point; the cell is then checked

# The zooms `tag_cells` stores (migration 0029): a zoom between reads the one above.
TAG_ZOOMS = tuple(range(0, BASE_ZOOM + 1, 2))

_COLUMNS = ("gx", "gy", "kind", "n", "sx", "sy")

# (z, x0, x1, y0, y1, kinds) -> a subquery of (gx, gy, kind, n, sx, sy) rows of zoom z
# within the cell ranges: the pyramid's own (counted) or a filtered pass's.
Source = Callable[[int, int, int, int, int, tuple[str, ...]], Subquery]


def source_for(f: EntryFilter) -> Source | None:
    """The counts that answer `f` without grouping any entry, or None (a filtered pass
    then, app/query/filter_pass.py): for what the public sees, restricted by kind and
    place at most, the count pyramid; for that and exactly one tag, the tag pyramid."""
    if replace(f, kinds=(), located=None, tags=()) != EntryFilter():
        return None
    if not f.tags:
        return counted
    if len(f.tags) == 1:
        return tag_source(f.tags[0])
    return None


def serves(f: EntryFilter) -> bool:
    """Whether the pyramids answer `f` (`source_for`): tile_cells, kind_totals and count
    then read them by themselves."""
    return source_for(f) is not None


def compact_if_piled() -> int:
    """Fold the oldest committed changes in when they pile up (at most FOLD a call, in a
    transaction of its own, so a reader's session is left alone); the number folded. A
    database that refuses the write (a read-only standby) is left to its primary."""
    folded = 0
    for changes, compact, pile in ((map_cell_changes, func.atlas_map_cells_compact, PILE),
                                   (tag_cell_changes, func.atlas_tag_cells_compact, TAG_PILE)):
        piled = db.session.scalar(select(func.count()).select_from(
            select(true()).select_from(changes).limit(pile + 1).subquery()))
        if piled <= pile:
            continue
        try:
            with db.engine.connect() as conn:
                folded += int(conn.scalar(select(compact(FOLD))) or 0)
                conn.commit()
        except DBAPIError as error:
            log.warning("counts not folded in: %s", error.orig)
    return folded


def compact_all() -> int:
    """Fold every committed change in (FOLD at a time, each in a transaction of its own);
    the number folded. For the `map-counts` job: readers then rarely have any to fold."""
    folded = 0
    for compact in (func.atlas_map_cells_compact, func.atlas_tag_cells_compact):
        while True:
            with db.engine.connect() as conn:
                done = int(conn.scalar(select(compact(FOLD))) or 0)
                conn.commit()
            folded += done
            if done < FOLD:
                break
    return folded


def counted(z: int, x0: int, x1: int, y0: int, y1: int, kinds: tuple[str, ...]) -> Subquery:
    """(gx, gy, kind, n, sx, sy) rows of zoom z within the cell ranges, changes included."""
    shift = BASE_ZOOM - z
    folded = (select(*(map_cells.c[c] for c in _COLUMNS))
              .where(map_cells.c.z == z, map_cells.c.kind.in_(kinds),
                     map_cells.c.gx.between(x0, x1), map_cells.c.gy.between(y0, y1)))
    ch = map_cell_changes.c
    pending = (select(ch.gx.op(">>")(shift).label("gx"), ch.gy.op(">>")(shift).label("gy"),
                      ch.kind, ch.n, ch.sx, ch.sy)
               .where(ch.kind.in_(kinds),
                      ch.gx.between(x0 << shift, ((x1 + 1) << shift) - 1),
                      ch.gy.between(y0 << shift, ((y1 + 1) << shift) - 1)))
    return union_all(folded, pending).subquery()


def tag_source(slug: str) -> Source:
    """The reader of the tag pyramid for the tag `slug` (none: no rows), as `counted`:
    zoom z from the stored zoom at or above it (a zoom between: four times the cells a
    side, each shifted to its cell of zoom z; the caller sums them per cell)."""
    tag = select(Tag.id).where(Tag.slug == slug).scalar_subquery()

    def tagged(z: int, x0: int, x1: int, y0: int, y1: int, kinds: tuple[str, ...]) -> Subquery:
        stored = next(s for s in TAG_ZOOMS if s >= z)
        up = stored - z
        t = tag_cells.c
        folded = (select(t.gx.op(">>")(up).label("gx"), t.gy.op(">>")(up).label("gy"),
                         t.kind, t.n, t.sx, t.sy)
                  .where(t.z == stored, t.tag_id == tag, t.kind.in_(kinds),
                         t.gx.between(x0 << up, ((x1 + 1) << up) - 1),
                         t.gy.between(y0 << up, ((y1 + 1) << up) - 1)))
        shift = BASE_ZOOM - z
        ch = tag_cell_changes.c
        pending = (select(ch.gx.op(">>")(shift).label("gx"),
                          ch.gy.op(">>")(shift).label("gy"), ch.kind, ch.n, ch.sx, ch.sy)
                   .where(ch.tag_id == tag, ch.kind.in_(kinds),
                          ch.gx.between(x0 << shift, ((x1 + 1) << shift) - 1),
                          ch.gy.between(y0 << shift, ((y1 + 1) << shift) - 1)))
        return union_all(folded, pending).subquery()

    return tagged


def tile_cells(f: EntryFilter, z: int, x: int, y: int, span: int = 1,
               source: Source | None = None) -> list[tuple]:
    """The non-empty cells of tile z/x/y (z ≤ BASE_ZOOM), or of the span × span tiles from
    it, under a filter the pyramids serve (or that `source` counted: a filtered pass,
    app/query/filter_pass.py): (gx, gy, count, mean lon, mean lat, count per kind…, and
    for a cell of one entry its slug, kind index, lon, lat, name)."""
    kinds = f.kinds or ENTRY_KINDS
    side = GRID << z
    u = (source or source_for(f))(z, x * GRID, (x + span) * GRID - 1, y * GRID,
                                  (y + span) * GRID - 1, kinds)
    n = func.sum(u.c.n)
    cells = (select(u.c.gx, u.c.gy, n.label("n"), func.sum(u.c.sx).label("sx"),
                    func.sum(u.c.sy).label("sy"),
                    *(func.coalesce(func.sum(u.c.n).filter(u.c.kind == k), 0).label(f"k{i}")
                      for i, k in enumerate(ENTRY_KINDS)))
             .group_by(u.c.gx, u.c.gy).having(n > 0).subquery())
    lon, lat = func.ST_X(Entry.geom), func.ST_Y(Entry.geom)

    def lat_of(row):  # the north edge of grid row `row` (Web Mercator)
        return func.degrees(func.atan(func.sinh(math.pi * (1 - 2.0 * row / side))))

    # Rows 0 and side - 1 also hold what lies beyond Web Mercator's ±85.05°.
    north = case((cells.c.gy == 0, 90.0), else_=lat_of(cells.c.gy) + EDGE)
    south = case((cells.c.gy == side - 1, -90.0), else_=lat_of(cells.c.gy + 1) - EDGE)
    west = cells.c.gx * (360.0 / side) - 180 - EDGE
    east = (cells.c.gx + 1) * (360.0 / side) - 180 + EDGE
    kind_index = case(*((Entry.kind == k, i) for i, k in enumerate(ENTRY_KINDS)))
    single = (select(Entry.slug.label("slug"), kind_index.label("kind_index"),
                     _rounded(lon).label("lon"), _rounded(lat).label("lat"),
                     Entry.name.label("name"))
              .where(cells.c.n == 1, *conditions(replace(f, located=True)),
                     Entry.geom.op("&&")(func.ST_MakeEnvelope(west, south, east, north, 4326)),
                     func.atlas_cell_x(lon, side) == cells.c.gx,
                     func.atlas_cell_y(lat, side) == cells.c.gy)
              .limit(1).lateral())
    stmt = (select(cells.c.gx, cells.c.gy, cells.c.n,
                   func.atlas_cell_mean(cells.c.sx, cells.c.n),
                   func.atlas_cell_mean(cells.c.sy, cells.c.n),
                   *(cells.c[f"k{i}"] for i in range(len(ENTRY_KINDS))),
                   single.c.slug, single.c.kind_index, single.c.lon, single.c.lat,
                   single.c.name)
            .select_from(cells.outerjoin(single, true()))
            .order_by(cells.c.gx, cells.c.gy))
    return [tuple(row) for row in db.session.execute(stmt)]


def _rounded(expr):
    return func.round(expr.cast(db.Numeric), 5).cast(db.Float)


def kind_totals(f: EntryFilter, source: Source | None = None) -> dict[str, tuple[int, int]]:
    """{kind: (located, without a place)} of the entries `f` gives, for `serves(f)` (or
    from `source`, as tile_cells)."""
    u = (source or source_for(f))(0, -1, GRID - 1, -1, GRID - 1, f.kinds or ENTRY_KINDS)
    unlocated = u.c.gx < 0
    stmt = (select(u.c.kind, func.sum(u.c.n).filter(~unlocated),
                   func.sum(u.c.n).filter(unlocated))
            .group_by(u.c.kind))
    return {kind: (int(located or 0), int(without or 0))
            for kind, located, without in db.session.execute(stmt)
            if (located or 0) or (without or 0)}


def count(f: EntryFilter) -> int:
    """count_entries(f) for `serves(f)`, from the pyramid."""
    totals = kind_totals(f).values()
    if f.located is True:
        return sum(a for a, _ in totals)
    if f.located is False:
        return sum(b for _, b in totals)
    return sum(a + b for a, b in totals)


def tag_totals(f: EntryFilter) -> dict[str, int]:
    """{tag slug: entries} of the entries `f` gives, for `serves(f)` and no tag filter
    (tags with none absent): the tag facets, zoom 0 of the tag pyramid and the changes
    not folded yet (one statement)."""
    return sum_by_tag(tag_facet_rows(f.kinds or ENTRY_KINDS, f.located))


def tag_facet_rows(kinds, located: bool | None) -> list[Select]:
    """(tag_id, n) of the tag facets of `kinds` (and `located`: a cell, not (-1, -1)):
    zoom 0 of `tag_cells` and the changes not folded yet."""
    folded = select(tag_cells.c.tag_id, tag_cells.c.n).where(tag_cells.c.z == 0)
    parts = []
    for part, t in ((folded, tag_cells), (select(tag_cell_changes.c.tag_id,
                                                 tag_cell_changes.c.n), tag_cell_changes)):
        part = part.where(t.c.kind.in_(kinds))
        if located is not None:
            part = part.where(t.c.gx >= 0 if located else t.c.gx < 0)
        parts.append(part)
    return parts


def sum_by_tag(parts: list[Select]) -> dict[str, int]:
    """{tag slug: the sum of n} over the (tag_id, n) rows of `parts`, tags above zero."""
    u = union_all(*parts).subquery()
    n = func.sum(u.c.n)
    stmt = (select(Tag.slug, n).join(Tag, Tag.id == u.c.tag_id)
            .group_by(Tag.slug).having(n > 0))
    return {slug: int(count) for slug, count in db.session.execute(stmt)}
