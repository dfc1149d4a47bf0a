"""The filtered map's counts: one pass per (filter, data state), kept for every block.

The count pyramid (app/query/pyramid.py) holds what the public sees, by kind, place and
one tag; a filter it cannot hold (two tags, the French search…) had each block of the
map group its matching entries: at 1,000,000 entries, 1.0-1.8 s for France's densest
block under a search that keeps them all, paid again on every pan and zoom. Here the
first request of a filtered view counts the matching entries once, per cell of zoom
BASE_ZOOM and kind, rolls them up to every other zoom and stores them (migration 0025)
in chunks of 16 × 16 cells (a block of 4 × 4 tiles); every block of that view, at any
zoom, then reads a row or four and goes through the pyramid's own statement
(`pyramid.tile_cells`, with this as its source), so both give the same figures. A filter
that keeps most public entries (a search for a common word) counts those it leaves out
instead, fewer to group, which readers take away from the pyramid's counts (integers:
exact). A sample of the table only picks which of the two; the counts are exact either
way, never sampled or capped.

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
from dataclasses import dataclass, replace

from sqlalchemy import (
    BigInteger,
    Integer,
    and_,
    case,
    cast,
    column,
    func,
    insert,
    literal,
    select,
    table,
    tablesample,
    text,
    union_all,
)
from sqlalchemy import true as sql_true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.util import ClauseAdapter

from ..extensions import db
from ..models import (
    Entry,
    Tag,
    entry_tags,
    map_filter_chunks,
    map_filter_passes,
    map_filter_tags,
)
from ..models.vocab import ENTRY_KINDS
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
SAMPLED_ROWS = 5_000  # rows sampled to tell whether a filter keeps most entries

_COLUMNS = ("gx", "gy", "kind", "n", "sx", "sy")
# The entries a pass counts, while it is written (a temporary table, dropped at commit).
_ROWS = table("atlas_pass_rows", column("id"), column("x"), column("y"), column("kind"))


def lifted(f: EntryFilter) -> EntryFilter:
    """The filter a pass counts: `f` with its kinds and place lifted (both kept per cell)."""
    return replace(f, kinds=(), located=None)


def pass_key(token: str, g: EntryFilter) -> str:
    return hashlib.sha256(f"{token}|{g!r}".encode()).hexdigest()


@dataclass(frozen=True)
class Pass:
    id: int
    complement: bool  # its chunks count the public entries the filter leaves out
    state: str  # the data state counted


def pass_for(f: EntryFilter) -> Pass | None:
    """The pass of `f` under the current data state, counted now if there is none yet;
    None if the database refuses to store it, or if the count, in a connection of its
    own, saw another state than this session (a commit in between, or this session's
    own write not committed yet): the caller then counts in its own snapshot. Also None
    for a filter bound to a place (`near`, `bbox`: the directory around a visitor): its
    matches are few and its pass nobody else's, written and never read again."""
    g = lifted(f)
    if g.near is not None or g.bbox is not None:
        return None
    token = data_state().token
    key = pass_key(token, g)
    passes = map_filter_passes.c
    found = db.session.execute(select(passes.id, passes.complement, passes.state)
                               .where(passes.key == key)).first()
    if found is not None:
        return Pass(*found)
    try:
        counted = _count(g, key)
    except DBAPIError as error:
        log.warning("filtered map counts not stored: %s", error.orig)
        return None
    return counted if counted is not None and counted.state == token else None


def _count(g: EntryFilter, key: str) -> Pass | None:
    """Count and store the pass of `g` (under an advisory lock on `key`, so concurrent
    requests for it wait for one count), in a connection of its own."""
    lock = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
    passes = map_filter_passes.c
    kept = select(passes.id, passes.complement, passes.state)
    with db.engine.connect() as conn:
        conn.execute(select(func.pg_advisory_lock(lock)))
        conn.commit()
        try:
            found = conn.execute(kept.where(passes.key == key)).first()
            conn.commit()
            if found is not None:  # counted by the request we waited for
                return Pass(*found)
            # The data state and the counts from one snapshot.
            conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            # Up to a few hundred thousand cells hashed at once: in memory, not spilled to
            # disk; no JIT (its compiling costs more than it saves here).
            conn.execute(text("SET LOCAL work_mem = '128MB'; SET LOCAL jit = off"))
            state = state_of(*conn.execute(STATE_SQL).one()).token
            key = pass_key(state, g)
            complement = _keeps_most(conn, g)
            made = conn.scalar(pg_insert(map_filter_passes)
                               .values(key=key, state=state, complement=complement)
                               .on_conflict_do_nothing(index_elements=["key"])
                               .returning(passes.id))
            if made is None:  # another worker stored this state's pass meanwhile
                conn.rollback()
                found = conn.execute(kept.where(passes.key == key)).first()
                return Pass(*found) if found is not None else None
            _store(conn, g, made, complement)
            conn.commit()
            prune(conn, state)
            return Pass(made, complement, state)
        finally:
            conn.rollback()
            conn.execute(select(func.pg_advisory_unlock(lock)))
            conn.commit()


def _public() -> list:
    """What the count pyramid counts (its triggers' rule): published, not deleted."""
    return conditions(EntryFilter())


def _keeps_most(conn, g: EntryFilter) -> bool:
    """Whether `g` keeps more than half the public entries, from a sample of the table's
    pages (SAMPLED_ROWS rows or so): then its pass counts those it leaves out, fewer to
    group, and readers take them away from the pyramid's counts. The sample only picks
    the way; both give exact counts."""
    if g.moderation != EntryFilter().moderation or g.include_deleted:
        return False  # the pyramid holds the public entries only
    if g.tags and not _tags_may_keep_most(conn, g.tags):
        return False
    rows = conn.scalar(text("SELECT greatest(reltuples, 1) FROM pg_class"
                            " WHERE oid = 'entries'::regclass"))
    percent = min(100.0, max(0.5, 100.0 * SAMPLED_ROWS / float(rows)))
    sampled = tablesample(Entry.__table__, func.system(percent), seed=literal(0))
    on_sample = ClauseAdapter(sampled).traverse
    kept, seen = conn.execute(
        select(func.count().filter(and_(*(on_sample(c) for c in conditions(g)))),
               func.count())
        .select_from(sampled).where(*(on_sample(c) for c in _public()))).one()
    return seen > 0 and kept * 2 > seen


def _tags_may_keep_most(conn, tags: tuple[str, ...]) -> bool:
    """False when the public entries with any of `tags` are at most half the public ones,
    told by the tag facets and the pyramid (a few index reads: the tags' sum bounds their
    union): then no sample is drawn (0.1-0.2 s at 1,000,000)."""
    facets = union_all(*pyramid.tag_facet_rows(ENTRY_KINDS, None)).subquery()
    tagged = (select(func.coalesce(func.sum(facets.c.n), 0))
              .join(Tag, Tag.id == facets.c.tag_id).where(Tag.slug.in_(tags)))
    public = pyramid.counted(0, -1, GRID - 1, -1, GRID - 1, ENTRY_KINDS)
    total = select(func.coalesce(func.sum(public.c.n), 0)).scalar_subquery()
    tagged_n, total_n = conn.execute(select(tagged.scalar_subquery(), total)).one()
    return tagged_n * 2 > total_n


def _store(conn, g: EntryFilter, pass_id: int, complement: bool) -> None:
    """Write the pass: the entries it counts (those `g` keeps or, for a complement, the
    public ones it leaves out: its conditions not true) read once into a temporary table,
    then their cells (`_chunks_of`) and, for a filter without a tag, their tags from it."""
    by_tag = _by_tag(g, complement)
    if by_tag:  # rows_select's plan, whatever the table's size and statistics
        conn.execute(text("SET LOCAL enable_seqscan = off"))
    rows = rows_select(g, complement).compile(
        dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {_ROWS.name} ON COMMIT DROP AS {rows}",
                         rows.params)
    conn.execute(_chunks_of(pass_id))
    if g.tags:  # the tag facet lifts the tag filter: nothing reads these (tag_totals)
        return
    r = _ROWS.c
    located = r.x.is_not(None)
    conn.execute(insert(map_filter_tags).from_select(
        ["pass_id", "tag_id", "kind", "located", "n"],
        select(literal(pass_id), entry_tags.c.tag_id, r.kind, located,
               cast(func.count(), Integer))
        .select_from(_ROWS.join(entry_tags, entry_tags.c.entry_id == r.id))
        .group_by(entry_tags.c.tag_id, r.kind, located)))


def _by_tag(g: EntryFilter, complement: bool) -> bool:
    """Whether the pass reads its entries from the tag's rows (see rows_select)."""
    return bool(g.tags) and not complement


def rows_select(g: EntryFilter, complement: bool):
    """(id, x, y, kind) of the entries a pass counts. Each position read once (a PostGIS
    call each: most of the cost per entry). A tag filter's entries are read from the
    tag's rows: its index gives their ids, each entry is then read by its key (the
    LATERAL … OFFSET 0 keeps that nested loop), so the pass reads the tag's entries only,
    whatever the table's size: a hash join read every entry to keep one in ten (1.0-4.1 s
    at 1,000,000, the tagged entries being spread through the table)."""
    columns = (Entry.id, func.ST_X(Entry.geom).label("x"), func.ST_Y(Entry.geom).label("y"),
               Entry.kind)
    if complement:
        return select(*columns).where(*_public(), and_(*conditions(g)).is_not(sql_true()))
    if not _by_tag(g, complement):
        return select(*columns).where(*conditions(g))
    ids = (select(entry_tags.c.entry_id).join(Tag, Tag.id == entry_tags.c.tag_id)
           .where(Tag.slug.in_(g.tags)))
    if len(g.tags) > 1:  # an entry with two of them counts once
        ids = ids.distinct()
    tagged = ids.subquery("tagged")
    one = (select(*columns)
           .where(Entry.id == tagged.c.entry_id, *conditions(replace(g, tags=())))
           .offset(0).lateral("entry"))
    return select(*one.c).select_from(tagged.join(one, sql_true()))


def _chunks_of(pass_id: int):
    """INSERT … SELECT of the pass's cells: the entries of `_ROWS` per zoom-BASE_ZOOM cell
    and kind (those without a place in cell (-1, -1)), then every STEP-th zoom below,
    each from the one above; the zooms between are read from the one above them
    (`source`)."""
    points = _ROWS
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


def source(counts: Pass):
    """The reader of a pass for `pyramid.tile_cells` and `pyramid.kind_totals`: the
    (gx, gy, kind, n, sx, sy) rows of zoom z within the cell ranges, from the stored
    zoom at or above z (a zoom between two stored ones: four times the cells a side,
    each shifted to its cell of zoom z; the caller sums them per cell). A complement's
    rows are taken away from the pyramid's (n, sx and sy negated: exact integers)."""
    t = map_filter_chunks.c
    sign = -1 if counts.complement else 1

    def counted(z: int, x0: int, x1: int, y0: int, y1: int, kinds: tuple[str, ...]):
        if counts.complement:
            u = pyramid.counted(z, x0, x1, y0, y1, kinds)
            return union_all(select(*u.c), select(*chunked(z, x0, x1, y0, y1, kinds).c)
                             ).subquery()
        return chunked(z, x0, x1, y0, y1, kinds)

    def chunked(z: int, x0: int, x1: int, y0: int, y1: int, kinds: tuple[str, ...]):
        stored = next(s for s in reversed(STORED) if s >= z)
        shift = stored - z
        x0, y0 = x0 << shift, y0 << shift
        x1, y1 = ((x1 + 1) << shift) - 1, ((y1 + 1) << shift) - 1
        cells = (func.unnest(t.gx, t.gy, t.kind, t.n, t.sx, t.sy).table_valued(*_COLUMNS)
                 .render_derived())
        return (select(cells.c.gx.op(">>")(shift).label("gx"),
                       cells.c.gy.op(">>")(shift).label("gy"), cells.c.kind,
                       *((cells.c[name] * sign).label(name) for name in ("n", "sx", "sy")))
                .select_from(map_filter_chunks).join(cells, sql_true())
                .where(t.pass_id == counts.id, t.z == stored,
                       t.cx.between(x0 >> CHUNK_SHIFT, x1 >> CHUNK_SHIFT),
                       t.cy.between(y0 >> CHUNK_SHIFT, y1 >> CHUNK_SHIFT),
                       cells.c.gx.between(x0, x1), cells.c.gy.between(y0, y1),
                       cells.c.kind.in_(kinds))
                .subquery())

    return counted


def still_good(counts: Pass) -> bool:
    """Asked after reading a pass: whether the read saw it whole (it is still stored: a
    pass goes in one transaction, its chunks with it) and, for a complement, whether the
    pyramid it read beside it was of the same data state (the state has not moved)."""
    if db.session.scalar(select(map_filter_passes.c.id)
                         .where(map_filter_passes.c.id == counts.id)) is None:
        return False
    return not counts.complement or data_state().token == counts.state


def tile_cells(f: EntryFilter, z: int, x: int, y: int, span: int = 1) -> list[tuple] | None:
    """pyramid.tile_cells for a filter the pyramid does not hold (z ≤ BASE_ZOOM), from
    the filter's pass; None when there is none (the caller groups the entries)."""
    counts = pass_for(f)
    if counts is None:
        return None
    # A lone entry's own row is looked up by its cell's box (the spatial index), its
    # filter checked on that row: a bitmap of every match of a broad search for each
    # of them (0.16 s each at 1,000,000 entries) is what the planner would pick.
    db.session.execute(text("SET LOCAL enable_bitmapscan = off"))
    try:
        rows = pyramid.tile_cells(f, z, x, y, span, source=source(counts))
    finally:
        db.session.execute(text("RESET enable_bitmapscan"))
    return rows if still_good(counts) else None


def kind_totals(f: EntryFilter) -> dict[str, tuple[int, int]] | None:
    """{kind: (located, without a place)} of `lifted(f)`, from its pass (zoom 0); None
    when there is none."""
    g = lifted(f)
    counts = pass_for(g)
    if counts is None:
        return None
    totals = pyramid.kind_totals(g, source=source(counts))
    return totals if still_good(counts) else None


def tag_totals(f: EntryFilter) -> dict[str, int] | None:
    """{tag slug: entries} under `f` (no tag filter: the tag facet lifts it), from the
    pass of `f` (for a complement, the tag facets less the entries left out); None when
    there is no pass, or `f` has a tag filter (its pass keeps no tags: see _store)."""
    if f.tags:
        return None
    counts = pass_for(f)
    if counts is None:
        return None
    kinds = f.kinds or ENTRY_KINDS
    sign = -1 if counts.complement else 1
    t = map_filter_tags.c
    parts = [select(t.tag_id, (t.n * sign).label("n"))
             .where(t.pass_id == counts.id, t.kind.in_(kinds))]
    if f.located is not None:
        parts[0] = parts[0].where(t.located == f.located)
    if counts.complement:
        parts += pyramid.tag_facet_rows(kinds, f.located)
    totals = pyramid.sum_by_tag(parts)
    return totals if still_good(counts) else None
