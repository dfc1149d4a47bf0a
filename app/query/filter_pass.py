"""The filtered map's counts: one pass per (filter, data state), kept for every block.

The count pyramid (app/query/pyramid.py) holds what the public sees, by kind; a filter
it cannot hold (a tag, the French search…) had each block of the map group its matching
entries: at 1,000,000 entries, 1.0-1.8 s for France's densest block under a search that
keeps them all, paid again on every pan and zoom. Here the first request of a filtered
view counts the matching entries once, per cell of zoom BASE_ZOOM and kind, rolls them up
to every zoom and stores them (migration 0026) in chunks of 16 × 16 cells (a block of
4 × 4 tiles); every block of that view, at any zoom, then reads a row or a few and goes
through the pyramid's own statement (`pyramid.tile_cells`, with this as its source), so
both give the same figures. Exact counts, no sampling.

Kept per data state: the key is a hash of the data state and the filter (its kind and
place lifted: one pass serves every kind and the totals), so a write, or a late commit,
makes the next request count again; the pass is counted in one snapshot (REPEATABLE
READ) with the data state it is stored under. Concurrent requests of one view share
the pass: one counts under an advisory lock, the others wait for it and read it.
Bounded: at most KEPT passes (and those of the last GRACE seconds, which a request may
be reading), pruned by the request that counts a new one and by the `map-counts` job.
A database that refuses the write (a read-only standby) gets None: the caller groups
the entries itself, as before.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace

from sqlalchemy import (
    BigInteger,
    Integer,
    case,
    cast,
    func,
    insert,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy import true as sql_true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError

from ..extensions import db
from ..models import Entry, map_filter_chunks, map_filter_passes
from . import pyramid
from .entries import conditions
from .filters import EntryFilter
from .pyramid import BASE_ZOOM, GRID
from .state import STATE_SQL, data_state, state_of

log = logging.getLogger(__name__)

SIDE = GRID << BASE_ZOOM
CHUNK_SHIFT = 4  # 16 × 16 cells a chunk: one block of 4 × 4 tiles (app/web/map_cells.py)
# Zooms stored, from BASE_ZOOM down by STEP: a block of a zoom between reads the chunks
# of the zoom above (4 rows at most), and the pass writes and rolls up a third less.
STEP = 2
STORED = tuple(range(BASE_ZOOM, -1, -STEP))
KEPT = 8  # passes kept, the newest (up to ~30 MB each for a search keeping 1,000,000)
GRACE = 60  # seconds a pass is kept whatever its state: a request may be reading it

_COLUMNS = ("gx", "gy", "kind", "n", "sx", "sy")


def lifted(f: EntryFilter) -> EntryFilter:
    """The filter a pass counts: `f` with its kinds and place lifted (both kept per cell)."""
    return replace(f, kinds=(), located=None)


def pass_key(token: str, g: EntryFilter) -> str:
    return hashlib.sha256(f"{token}|{g!r}".encode()).hexdigest()


def pass_for(f: EntryFilter) -> int | None:
    """The id of the pass of `f` under the current data state, counted now if there is
    none yet; None if the database refuses to store it."""
    g = lifted(f)
    key = pass_key(data_state().token, g)
    found = db.session.scalar(select(map_filter_passes.c.id)
                              .where(map_filter_passes.c.key == key))
    if found is not None:
        return found
    try:
        return _count(g, key)
    except DBAPIError as error:
        log.warning("filtered map counts not stored: %s", error.orig)
        return None


def _count(g: EntryFilter, key: str) -> int | None:
    """Count and store the pass of `g` (under an advisory lock on `key`, so concurrent
    requests for it wait for one count), in a connection of its own."""
    lock = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
    passes = map_filter_passes.c
    with db.engine.connect() as conn:
        conn.execute(select(func.pg_advisory_lock(lock)))
        conn.commit()
        try:
            found = conn.scalar(select(passes.id).where(passes.key == key))
            conn.commit()
            if found is not None:  # counted by the request we waited for
                return found
            # The data state and the counts from one snapshot.
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            # Up to a few hundred thousand cells hashed at once: in memory, not spilled to
            # disk; no JIT (its compiling costs more than it saves here).
            conn.execute(text("SET LOCAL work_mem = '128MB'; SET LOCAL jit = off"))
            state = state_of(*conn.execute(STATE_SQL).one()).token
            key = pass_key(state, g)
            made = conn.scalar(pg_insert(map_filter_passes).values(key=key, state=state)
                               .on_conflict_do_nothing(index_elements=["key"])
                               .returning(passes.id))
            if made is None:  # another worker stored this state's pass meanwhile
                conn.rollback()
                return conn.scalar(select(passes.id).where(passes.key == key))
            conn.execute(_chunks_of(g, made))
            conn.commit()
            prune(conn, state)
            return made
        finally:
            conn.rollback()
            conn.execute(select(func.pg_advisory_unlock(lock)))
            conn.commit()


def _chunks_of(g: EntryFilter, pass_id: int):
    """INSERT … SELECT of the pass: the matching entries per zoom-BASE_ZOOM cell and kind
    (those without a place in cell (-1, -1)), then every STEP-th zoom below, each from
    the one above; the zooms between are read from the one above them (`source`)."""
    # Each position read once (a PostGIS call each: most of the cost per entry).
    points = (select(func.ST_X(Entry.geom).label("x"), func.ST_Y(Entry.geom).label("y"),
                     Entry.kind.label("kind"))
              .where(*conditions(g)).offset(0).subquery())
    # (least and greatest skip a NULL: the cell functions do not give NULL for no place)
    placed = points.c.x.is_not(None)
    gx = case((placed, func.atlas_cell_x(points.c.x, SIDE)), else_=-1)
    gy = case((placed, func.atlas_cell_y(points.c.y, SIDE)), else_=-1)
    level = (select(gx.label("gx"), gy.label("gy"), points.c.kind,
                    cast(func.count(), Integer).label("n"),
                    cast(func.coalesce(func.sum(func.atlas_cell_q(points.c.x)), 0), BigInteger)
                    .label("sx"),
                    cast(func.coalesce(func.sum(func.atlas_cell_q(points.c.y)), 0), BigInteger)
                    .label("sy"))
             .group_by(gx, gy, points.c.kind)
             .cte(f"z{BASE_ZOOM}"))
    levels = {BASE_ZOOM: level}
    for z in STORED[1:]:
        up = levels[z + STEP].c
        x, y = up.gx.op(">>")(STEP), up.gy.op(">>")(STEP)  # -1 stays -1 (arithmetic shift)
        levels[z] = (select(x.label("gx"), y.label("gy"), up.kind,
                            cast(func.sum(up.n), Integer).label("n"),
                            cast(func.sum(up.sx), BigInteger).label("sx"),
                            cast(func.sum(up.sy), BigInteger).label("sy"))
                     .group_by(x, y, up.kind).cte(f"z{z}"))
    every = union_all(*(select(literal(z).label("z"), *(c.c[name] for name in _COLUMNS))
                        for z, c in levels.items())).subquery()
    cx, cy = every.c.gx.op(">>")(CHUNK_SHIFT), every.c.gy.op(">>")(CHUNK_SHIFT)
    chunks = (select(literal(pass_id), every.c.z, cx, cy,
                     *(func.array_agg(every.c[name]) for name in _COLUMNS))
              .group_by(every.c.z, cx, cy))
    return insert(map_filter_chunks).from_select(
        ["pass_id", "z", "cx", "cy", *_COLUMNS], chunks)


def prune(conn, state: str) -> int:
    """Drop the passes of another data state and those past the KEPT newest, once GRACE
    seconds old; how many were dropped."""
    passes = map_filter_passes.c
    newest = select(passes.id).order_by(passes.id.desc()).limit(KEPT)
    stmt = (map_filter_passes.delete()
            .where(passes.made_at < func.now() - func.make_interval(0, 0, 0, 0, 0, 0, GRACE),
                   (passes.state != state) | passes.id.not_in(newest)))
    dropped = conn.execute(stmt).rowcount
    conn.commit()
    return dropped


def source(pass_id: int):
    """The reader of a pass for `pyramid.tile_cells` and `pyramid.kind_totals`: the
    (gx, gy, kind, n, sx, sy) rows of zoom z within the cell ranges, from the stored
    zoom at or above z (a zoom between two stored ones: four times the cells a side,
    each shifted to its cell of zoom z; the caller sums them per cell)."""
    t = map_filter_chunks.c

    def counted(z: int, x0: int, x1: int, y0: int, y1: int, kinds: tuple[str, ...]):
        stored = next(s for s in reversed(STORED) if s >= z)
        shift = stored - z
        x0, y0 = x0 << shift, y0 << shift
        x1, y1 = ((x1 + 1) << shift) - 1, ((y1 + 1) << shift) - 1
        cells = (func.unnest(t.gx, t.gy, t.kind, t.n, t.sx, t.sy).table_valued(*_COLUMNS)
                 .render_derived())
        return (select(cells.c.gx.op(">>")(shift).label("gx"),
                       cells.c.gy.op(">>")(shift).label("gy"),
                       *(cells.c[name] for name in _COLUMNS[2:]))
                .select_from(map_filter_chunks).join(cells, sql_true())
                .where(t.pass_id == pass_id, t.z == stored,
                       t.cx.between(x0 >> CHUNK_SHIFT, x1 >> CHUNK_SHIFT),
                       t.cy.between(y0 >> CHUNK_SHIFT, y1 >> CHUNK_SHIFT),
                       cells.c.gx.between(x0, x1), cells.c.gy.between(y0, y1),
                       cells.c.kind.in_(kinds))
                .subquery())

    return counted


def exists(pass_id: int) -> bool:
    """Whether the pass is still stored (a reader that found nothing asks: pruned meanwhile?)."""
    return db.session.scalar(select(map_filter_passes.c.id)
                             .where(map_filter_passes.c.id == pass_id)) is not None


def tile_cells(f: EntryFilter, z: int, x: int, y: int, span: int = 1) -> list[tuple] | None:
    """pyramid.tile_cells for a filter the pyramid does not hold (z ≤ BASE_ZOOM), from
    the filter's pass; None when there is none (the caller groups the entries)."""
    pass_id = pass_for(f)
    if pass_id is None:
        return None
    rows = pyramid.tile_cells(f, z, x, y, span, source=source(pass_id))
    if not rows and not exists(pass_id):  # pruned while read: trust nothing
        return None
    return rows


def kind_totals(f: EntryFilter) -> dict[str, tuple[int, int]] | None:
    """{kind: (located, without a place)} of `lifted(f)`, from its pass (zoom 0); None
    when there is none."""
    g = lifted(f)
    pass_id = pass_for(g)
    if pass_id is None:
        return None
    totals = pyramid.kind_totals(g, source=source(pass_id))
    if not totals and not exists(pass_id):
        return None
    return totals
