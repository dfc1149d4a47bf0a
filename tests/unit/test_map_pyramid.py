"""The map's count pyramid (migration 0023, app/query/pyramid.py) equals a direct count of
what the public may see, whatever is written, committed late or folded in; and the
unfiltered map reads it instead of the entries."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from dataclasses import replace

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import lazyload, load_only

from app.extensions import db
from app.models import Entry, Tag
from app.query import EntryFilter, count_entries, filter_pass, pyramid
from app.query.entries import conditions
from app.query.facets import kind_counts, kind_place_counts, tag_counts
from app.services.policy import public_entry
from app.web.map_cells import scanned_rows
from tests.conftest import raw_connection
from tests.support.api import fresh_app
from tests.support.statements import statements_sent

BASE = pyramid.BASE_ZOOM
SIDE = pyramid.GRID << BASE
LILLE = "ST_SetSRID(ST_MakePoint(3.07, 50.63), 4326)"


@pytest.fixture(scope="module")
def app(databases):
    app = fresh_app(databases, "pyramid")
    yield app
    if app in READERS:
        READERS.pop(app).close()


def connect(app):
    """A connection of its own (a transaction that another one must not see)."""
    return raw_connection(app)


# One connection in autocommit per app for the helpers below and `sql`, each statement
# committed at once as on a connection of its own: a new connection per call (hundreds in
# this file) cost more PostgreSQL CPU (backend start, authentication) than the counts.
READERS: dict = {}


def reader(app):
    if app not in READERS:
        READERS[app] = raw_connection(app)
        READERS[app].autocommit = True
    return READERS[app]


@pytest.fixture
def sql(app):
    """The conftest's `sql` (each statement committed on its own), on the reader."""

    def run(statement: str, *params) -> None:
        with reader(app).cursor() as cur:
            cur.execute(statement, params)

    return run


def direct(app) -> dict[int, dict[tuple, tuple[int, int, int]]]:
    """Per zoom, {(gx, gy, kind): (count, Σ lon, Σ lat)} of the entries the access policy
    shows the public (app/services/policy.py), counted here without the pyramid."""
    with app.app_context():
        # Only the columns the policy reads (the whole rows cost most of this count).
        public = {e.id for e in db.session.scalars(select(Entry).options(
            load_only(Entry.id, Entry.moderation, Entry.deleted_at), lazyload(Entry.tags)))
            if public_entry(e)}
        rows = db.session.execute(db.text(
            "SELECT id, kind, atlas_cell_x(ST_X(geom), :side), atlas_cell_y(ST_Y(geom), :side),"
            " atlas_cell_q(ST_X(geom)), atlas_cell_q(ST_Y(geom)) FROM entries"
            " WHERE geom IS NOT NULL UNION ALL"
            " SELECT id, kind, NULL, NULL, NULL, NULL FROM entries WHERE geom IS NULL"),
            {"side": SIDE}).all()
        db.session.remove()
    out: dict[int, dict] = {}
    for z in range(BASE + 1):
        sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
        for entry_id, kind, gx, gy, qx, qy in rows:
            if entry_id not in public:
                continue
            key = (-1, -1, kind) if gx is None else (gx >> (BASE - z), gy >> (BASE - z), kind)
            sums[key][0] += 1
            sums[key][1] += qx or 0
            sums[key][2] += qy or 0
        out[z] = {k: tuple(v) for k, v in sums.items()}
    return out


def counted(app) -> dict[int, dict[tuple, tuple[int, int, int]]]:
    """The same from the pyramid: folded cells plus the changes not folded yet."""
    with reader(app).cursor() as cur:
        cur.execute("""
            SELECT z, gx, gy, kind, sum(n), sum(sx), sum(sy) FROM (
                SELECT z, gx, gy, kind, n, sx, sy FROM map_cells
                UNION ALL
                SELECT z, gx >> (%(base)s - z), gy >> (%(base)s - z), kind, n, sx, sy
                FROM map_cell_changes, generate_series(0, %(base)s) AS z) AS u
            GROUP BY z, gx, gy, kind HAVING sum(n) <> 0 OR sum(sx) <> 0 OR sum(sy) <> 0""",
                    {"base": BASE})
        rows = cur.fetchall()
    out: dict[int, dict] = {z: {} for z in range(BASE + 1)}
    for z, gx, gy, kind, n, sx, sy in rows:
        out[z][(gx, gy, kind)] = (int(n), int(sx), int(sy))
    return out


def pending(app) -> int:
    """The changes not folded in yet."""
    with reader(app).cursor() as cur:
        cur.execute("SELECT count(*) FROM map_cell_changes")
        found = cur.fetchone()[0]
    return found


def compact(app) -> int:
    with reader(app).cursor() as cur:
        cur.execute("SELECT atlas_map_cells_compact() + atlas_tag_cells_compact()")
        folded = cur.fetchone()[0]
    return folded


def assert_agrees(app, expected: dict | None = None) -> None:
    """`expected`: direct(app) if the caller has just counted it."""
    expected = direct(app) if expected is None else expected
    assert expected[0], "nothing public to count"
    assert counted(app) == expected
    with app.app_context():
        for kinds in ((), ("third_place",)):
            for located in (None, True, False):
                f = EntryFilter(kinds=kinds, located=located)
                assert count_entries(f) == db.session.scalar(
                    select(func.count()).select_from(Entry).where(*conditions(f))), f
                assert kind_counts(f) == dict(db.session.execute(
                    select(Entry.kind, func.count()).group_by(Entry.kind)
                    .where(*conditions(replace(f, kinds=())))).all()), f
        # The tag facets, against the access policy's own predicate.
        tagged: Counter = Counter()
        for e in db.session.scalars(select(Entry).options(load_only(
                Entry.id, Entry.kind, Entry.geom, Entry.moderation, Entry.deleted_at))):
            if public_entry(e):
                for tag in e.tags:
                    tagged[tag.slug, e.kind, e.geom is not None] += 1
        assert tagged, "no public entry has a tag"
        for kinds in ((), ("third_place",), ("commons", "initiative")):
            for located in (None, True, False):
                f = EntryFilter(kinds=kinds, located=located)
                expected_tags: Counter = Counter()
                for (slug, kind, has_place), n in tagged.items():
                    if (not kinds or kind in kinds) and located in (None, has_place):
                        expected_tags[slug] += n
                assert tag_counts(f) == dict(expected_tags), f
        db.session.remove()


ENTRY = ("INSERT INTO entries (slug, kind, name, geom, moderation) VALUES "
         "(%s, 'commons', 'Pyramide', {geom}, %s)")
WRITES = {
    "created": (ENTRY.format(geom=LILLE), "pyr-created", "published"),
    "created-unlocated": (ENTRY.format(geom="NULL"), "pyr-unlocated", "published"),
    "created-pending": (ENTRY.format(geom=LILLE), "pyr-pending", "pending"),
    "moved": ("UPDATE entries SET geom = ST_SetSRID(ST_MakePoint(-1.55, 47.21), 4326)"
              " WHERE slug = (SELECT min(slug) FROM entries WHERE geom IS NOT NULL"
              " AND moderation = 'published')",),
    "moved-many-in-one": ("UPDATE entries SET geom = ST_Translate(geom, 0.01, -0.02)"
                          " WHERE geom IS NOT NULL",),
    "unplaced": ("UPDATE entries SET geom = NULL WHERE slug = (SELECT max(slug) FROM entries"
                 " WHERE geom IS NOT NULL AND moderation = 'published')",),
    "kind-changed": ("UPDATE entries SET kind = 'initiative' WHERE slug = (SELECT min(slug)"
                     " FROM entries WHERE kind = 'third_place' AND moderation = 'published')",),
    "unpublished": ("UPDATE entries SET moderation = 'rejected' WHERE slug = (SELECT min(slug)"
                    " FROM entries WHERE moderation = 'published' AND geom IS NOT NULL)",),
    "published": ("UPDATE entries SET moderation = 'published' WHERE moderation <> 'published'",),
    "tombstoned": ("UPDATE entries SET deleted_at = now() WHERE slug = (SELECT max(slug)"
                   " FROM entries WHERE deleted_at IS NULL AND geom IS NOT NULL)",),
    "restored": ("UPDATE entries SET deleted_at = NULL WHERE deleted_at IS NOT NULL",),
    "renamed-only": ("UPDATE entries SET name = name || ' !'",),
    "deleted": ("DELETE FROM entries WHERE slug LIKE 'pyr-%%'",),
    "tagged": ("INSERT INTO entry_tags (entry_id, tag_id) SELECT e.id, t.id FROM entries e,"
               " tags t WHERE e.moderation = 'published' ON CONFLICT DO NOTHING",),
    "untagged": ("DELETE FROM entry_tags WHERE tag_id = (SELECT min(tag_id) FROM entry_tags)",),
    "retagged": ("UPDATE entry_tags SET tag_id = (SELECT max(id) FROM tags) WHERE tag_id ="
                 " (SELECT min(tag_id) FROM entry_tags) AND entry_id NOT IN (SELECT entry_id"
                 " FROM entry_tags WHERE tag_id = (SELECT max(id) FROM tags))",),
    "tag-renamed": ("UPDATE tags SET slug = slug || '-bis' WHERE id = (SELECT min(tag_id)"
                    " FROM entry_tags)",),
    "tag-removed": ("DELETE FROM tags WHERE id = (SELECT max(tag_id) FROM entry_tags)",),
    "tagged-entry-unpublished": ("UPDATE entries SET moderation = 'pending' WHERE id IN"
                                 " (SELECT entry_id FROM entry_tags ORDER BY entry_id LIMIT 3)",),
    "tagged-entry-created": (ENTRY.format(geom=LILLE) + "; INSERT INTO entry_tags (entry_id,"
                             " tag_id) SELECT e.id, t.id FROM entries e, tags t"
                             " WHERE e.slug = %s", "pyr-tagged", "published", "pyr-tagged"),
    "tagged-entry-deleted": ("DELETE FROM entries WHERE slug = 'pyr-tagged'",),
}


# Writes that move no map count (tags are not on the map).
MAP_NEUTRAL = {"renamed-only", "created-pending", "tagged", "untagged", "retagged",
               "tag-renamed", "tag-removed"}


def test_the_demo_load_is_counted_and_folds_in(app):
    assert_agrees(app)  # loaded after the migration: through the triggers
    assert compact(app) > 0
    assert pending(app) == 0
    assert_agrees(app)


@pytest.mark.parametrize("write", list(WRITES), ids=list(WRITES))
def test_the_pyramid_equals_a_direct_count_after(app, sql, write):
    statement, *params = WRITES[write]
    before = direct(app)
    sql(statement, *params)
    after = direct(app)
    if write not in MAP_NEUTRAL:
        assert after != before, "the write changed nothing the map counts"
    assert_agrees(app, after)  # with the changes not folded yet
    compact(app)
    assert_agrees(app)


def test_a_change_that_nets_to_nothing_logs_nothing(app, sql):
    compact(app)
    sql("UPDATE entries SET name = name || ' ?', summary = 'autre'")
    assert pending(app) == 0


def test_a_late_commit_is_counted_when_it_shows(app):
    """A writes first and commits last; B writes, commits and is folded in meanwhile."""
    early, late = connect(app), connect(app)
    try:
        with early.cursor() as cur:
            cur.execute(ENTRY.format(geom=LILLE), ("pyr-early", "published"))
            cur.execute("UPDATE entries SET geom = ST_SetSRID(ST_MakePoint(5.37, 43.3), 4326)"
                        " WHERE slug = (SELECT min(slug) FROM entries WHERE geom IS NOT NULL"
                        " AND moderation = 'published')")
        with late.cursor() as cur:
            cur.execute(ENTRY.format(geom=LILLE), ("pyr-late", "published"))
            cur.execute("UPDATE entries SET moderation = 'rejected' WHERE slug = (SELECT"
                        " max(slug) FROM entries WHERE moderation = 'published')")
        late.commit()
        assert compact(app) > 0  # B's changes folded in, A's still running
        assert_agrees(app)
        early.commit()
        assert_agrees(app)
        compact(app)
        assert_agrees(app)
    finally:
        early.close()
        late.close()


def test_a_rolled_back_write_leaves_no_count(app):
    before = counted(app)
    conn = connect(app)
    try:
        with conn.cursor() as cur:
            cur.execute(ENTRY.format(geom=LILLE), ("pyr-undone", "published"))
        conn.rollback()
    finally:
        conn.close()
    compact(app)
    assert counted(app) == before


@pytest.mark.parametrize("kinds", [(), ("commons", "initiative")])
def test_tiles_from_the_pyramid_are_those_of_the_scan(app, sql, kinds):
    """Cells, per-kind counts, mean positions and lone markers alike, folded or not."""
    sql("UPDATE entries SET geom = ST_Translate(geom, 0.003, 0.001) WHERE geom IS NOT NULL"
        " AND slug IN (SELECT slug FROM entries ORDER BY slug LIMIT 10)")
    f = EntryFilter(kinds=kinds)
    cells = direct(app)  # the entries do not change here, folded or not
    for fold in (False, True):
        if fold:
            compact(app)
        with app.app_context():
            for z in (2, 6, 12):
                tiles = {(gx >> 2, gy >> 2) for (gx, gy, _k) in cells[z] if gx >= 0}
                assert tiles
                for x, y in tiles:
                    assert pyramid.tile_cells(f, z, x, y) == scanned_rows(f, z, x, y), (z, x, y)
                # A block of 4 × 4 tiles (map.js's request) in one statement, either way.
                for x, y in {(x >> 2 << 2, y >> 2 << 2) for x, y in tiles}:
                    assert pyramid.tile_cells(f, z, x, y, 4) == scanned_rows(f, z, x, y, 4), \
                        (z, x, y)
            db.session.remove()


def entries_rows_read(app, url: str) -> tuple[int, dict]:
    """The rows of `entries` that the statements of one answer read (EXPLAIN ANALYZE)."""
    with app.app_context():
        engine = db.engine
    with statements_sent(engine) as sent:
        answer = json.loads(app.test_client().get(url).data)
    # Reads, but the data state's (index look-ups, app/query/state.py).
    statements = [s for s in sent if s.sql.lstrip().upper().startswith(("SELECT", "WITH"))
                  and "pg_current_snapshot" not in s.sql]
    read = 0
    with connect(app) as conn, conn.cursor() as cur:
        cur.execute("SET enable_sort = off; SET jit = off")  # as the scan path runs
        for statement, parameters in statements:
            cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters)
            read += rows_of(cur.fetchone()[0][0]["Plan"], "entries")
    conn.close()
    return read, answer


def rows_of(plan: dict, relation: str) -> int:
    here = plan["Actual Rows"] * plan["Actual Loops"] if plan.get(
        "Relation Name") == relation else 0
    return here + sum(rows_of(p, relation) for p in plan.get("Plans", []))


def test_the_unfiltered_map_reads_counts_not_entries(app):
    compact(app)
    by_tile: Counter = Counter()
    for (gx, gy, _kind), (n, _sx, _sy) in direct(app)[2].items():
        if gx >= 0:
            by_tile[gx >> 2, gy >> 2] += n
    (x, y), _n = by_tile.most_common(1)[0]
    read, answer = entries_rows_read(app, f"/map/cells/2/{x}/{y}.json")
    assert answer["total"] > 20
    assert read <= len(answer["markers"]), read  # a lone marker's own row at most


def test_a_reader_folds_the_changes_in_when_they_pile_up(app, sql, monkeypatch):
    compact(app)
    sql(ENTRY.format(geom=LILLE), "pyr-piled", "published")
    sql(ENTRY.format(geom="ST_SetSRID(ST_MakePoint(-1.55, 47.21), 4326)"), "pyr-piled-2",
        "published")
    piled = pending(app)
    assert piled >= 2
    monkeypatch.setattr(pyramid, "PILE", piled)
    assert app.test_client().get("/map/markers.json?kind=commons").status_code == 200
    assert pending(app) == piled  # not past the pile: nothing folded
    monkeypatch.setattr(pyramid, "PILE", piled - 1)
    monkeypatch.setattr(pyramid, "FOLD", 1)  # the oldest first, one at a time
    assert app.test_client().get("/map/markers.json").status_code == 200
    assert pending(app) == piled - 1
    assert_agrees(app)
    monkeypatch.setattr(pyramid, "PILE", 0)
    monkeypatch.setattr(pyramid, "FOLD", 50_000)
    assert app.test_client().get("/map/markers.json?kind=initiative").status_code == 200
    assert pending(app) == 0
    assert_agrees(app)


UNPUBLISH = "UPDATE entries SET moderation = 'pending' WHERE slug = %s"
TAG = ("INSERT INTO entry_tags (entry_id, tag_id) SELECT e.id, t.id FROM entries e, tags t"
       " WHERE e.slug = %s AND t.slug = %s")


def blocked(app) -> bool:
    """Whether a statement of another connection waits for a lock."""
    with reader(app).cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
        waiting = cur.fetchone()[0] > 0
    return waiting


@pytest.mark.parametrize("first", ["tag", "unpublish"])
def test_a_tag_and_its_entrys_unpublication_at_once_count_once(app, sql, first):
    """Two transactions: one tags an entry, the other unpublishes it; whichever writes
    first, the tag facets end as the committed rows say (no write skew). The stored
    features' refresh would make them wait for each other too: it is deferred here, as
    the importers and a tag merge defer it."""
    sql(ENTRY.format(geom=LILLE), f"pyr-skew-{first}", "published")
    slug = f"pyr-skew-{first}"
    with app.app_context():
        tag = db.session.scalar(select(Tag.slug).order_by(Tag.slug).limit(1))
        db.session.remove()
    tagger, publisher = connect(app), connect(app)
    for conn in (tagger, publisher):  # as bulk writers do: nothing else serialises them
        with conn.cursor() as cur:
            cur.execute("SELECT set_config('atlas.defer_features', 'on', false)")
    writes = {"tag": (tagger, TAG, (slug, tag)), "unpublish": (publisher, UNPUBLISH, (slug,))}
    second = "unpublish" if first == "tag" else "tag"
    try:
        conn, statement, params = writes[first]
        with conn.cursor() as cur:
            cur.execute(statement, params)
        conn, statement, params = writes[second]
        worker = threading.Thread(target=lambda: conn.cursor().execute(statement, params))
        worker.start()
        deadline = time.monotonic() + 10  # it waits for the first (or is done, unlocked)
        while worker.is_alive() and not blocked(app) and time.monotonic() < deadline:
            worker.join(0.05)
        writes[first][0].commit()
        worker.join(10)
        assert not worker.is_alive()
        conn.commit()
    finally:
        tagger.close()
        publisher.close()
    assert_agrees(app)
    compact(app)
    assert_agrees(app)


# The filtered map's passes (app/query/filter_pass.py, migration 0025): a filter the
# pyramid does not hold is counted once per data state, and equals the entries' own count.
# The last keeps most entries: its pass counts those it leaves out (a complement).
FILTERED = [EntryFilter(text="epicerie"), EntryFilter(tags=("grocery",)),
            EntryFilter(text="cafe", kinds=("third_place",)),
            EntryFilter(statuses=("active", "planned"))]


def assert_pass_agrees(app, f: EntryFilter) -> int:
    """Blocks from the pass of `f` equal the entries grouped, at zooms 2, 7 and 12, and so
    do the totals; the pass's id."""
    with app.app_context():
        counts = filter_pass.pass_for(f)
        assert counts is not None
        if f.statuses:  # keeps most entries: counts those it leaves out
            assert counts.complement, f
        assert filter_pass.kind_totals(f) == kind_place_counts(f)
        untagged = replace(f, tags=())  # the tag facet lifts the tag filter
        assert filter_pass.tag_totals(untagged) == tag_counts(untagged), f
        assert any(filter_pass.kind_totals(f).values()), f
        for z in (2, 7, 12):  # 7: between two stored zooms, read from the one above
            placed = db.session.execute(
                select(func.atlas_cell_x(func.ST_X(Entry.geom), pyramid.GRID << z),
                       func.atlas_cell_y(func.ST_Y(Entry.geom), pyramid.GRID << z))
                .where(*conditions(replace(f, located=True)))).all()
            # Blocks of 4 × 4 tiles (what map.js asks for; a tile is the same statement).
            for x, y in {(gx >> 4 << 2, gy >> 4 << 2) for gx, gy in placed}:
                block = filter_pass.tile_cells(f, z, x, y, 4)
                assert block == scanned_rows(f, z, x, y, 4), (z, x, y)
                assert block
        db.session.remove()
    return counts.id


# The passes assert_pass_agrees has checked. A pass is of one filter and one data state:
# the same id again would compare the same counts with the same entries.
CHECKED: set[tuple[str, int]] = set()


def checked_pass(app, f: EntryFilter) -> int:
    """The id of the pass of `f`, checked by assert_pass_agrees unless it already was (the
    state one write's test leaves is the state the next one starts from)."""
    with app.app_context():
        counts = filter_pass.pass_for(f)
        db.session.remove()
    assert counts is not None
    key = (app.config["SQLALCHEMY_DATABASE_URI"], counts.id)
    if key not in CHECKED:
        assert assert_pass_agrees(app, f) == counts.id
        CHECKED.add(key)
    return counts.id


FILTERED_WRITES = ["created", "moved", "unpublished", "tagged-entry-created"]


@pytest.mark.parametrize("write", FILTERED_WRITES)
def test_a_filtered_pass_equals_the_entries_after(app, sql, write):
    statement, *params = WRITES[write]
    before = [checked_pass(app, f) for f in FILTERED]
    sql(statement.replace("'Pyramide'", "'Épicerie Pyramide'"), *params)
    after = [checked_pass(app, f) for f in FILTERED]
    assert not set(before) & set(after)  # the data state moved: every pass counted again


def assert_a_late_commit_shows(app, f: EntryFilter, late_write, early_write) -> None:
    """`f`'s pass counts what a direct count does while a transaction that began earlier
    (`late_write`, on its own connection) is running and after it commits (one more entry),
    an entry written meanwhile (`early_write`) included."""
    late = connect(app)
    try:
        with late.cursor() as cur:
            late_write(cur)
        early_write()
        running = assert_pass_agrees(app, f)
        with app.app_context():
            total = sum(a for a, _ in filter_pass.kind_totals(f).values())
            db.session.remove()
        late.commit()
        shown = assert_pass_agrees(app, f)
        assert shown != running
        with app.app_context():
            assert sum(a for a, _ in filter_pass.kind_totals(f).values()) == total + 1
            db.session.remove()
    finally:
        late.close()


def test_a_late_commit_is_in_the_filtered_pass_when_it_shows(app, sql):
    def late(cur) -> None:
        cur.execute(ENTRY.format(geom=LILLE).replace("'Pyramide'", "'Épicerie tardive'"),
                    ("pyr-late-epicerie", "published"))

    assert_a_late_commit_shows(app, EntryFilter(text="epicerie"), late, lambda: sql(
        ENTRY.format(geom=LILLE).replace("'Pyramide'", "'Épicerie pressée'"),
        "pyr-early-epicerie", "published"))


TAGGED_LATE = ("INSERT INTO entry_tags (entry_id, tag_id) SELECT e.id, t.id FROM entries e,"
               " tags t WHERE e.slug = %s AND t.slug IN ('grocery', 'repair')")


@pytest.mark.parametrize("tags", [("grocery",), ("grocery", "repair")])
def test_a_late_commit_is_in_a_tags_pass_when_it_shows(app, sql, tags):
    """A tag's pass, read from the tag's rows (an entry with both tags counts once)."""
    slug = "pyr-late-" + "-".join(tags)

    def late(cur) -> None:
        cur.execute(ENTRY.format(geom=LILLE), (slug, "published"))
        cur.execute(TAGGED_LATE, (slug,))

    assert_a_late_commit_shows(app, EntryFilter(tags=tags), late, lambda: sql(
        ENTRY.format(geom=LILLE) + "; " + TAGGED_LATE, slug + "-early", "published",
        slug + "-early"))


def scans_of(plan: dict, relations: tuple[str, ...]) -> list[tuple[str, str, bool]]:
    """(node type, relation, whether an index condition bounds it) of each scan of
    `relations` in an EXPLAIN (FORMAT JSON) plan."""
    found = []
    if plan.get("Relation Name") in relations:
        found.append((plan["Node Type"], plan["Relation Name"],
                      "Index Cond" in plan or "Recheck Cond" in plan))
    for child in plan.get("Plans", []):
        found += scans_of(child, relations)
    return found


RARE_TAGS = ("INSERT INTO tags (slug, label_fr, label_en) VALUES ('pyr-rare-a', 'A', 'A'),"
             " ('pyr-rare-b', 'B', 'B') ON CONFLICT DO NOTHING; INSERT INTO entry_tags"
             " (entry_id, tag_id) SELECT e.id, t.id FROM (SELECT id FROM entries"
             " WHERE moderation = 'published' ORDER BY slug LIMIT 3) AS e, tags t"
             " WHERE t.slug LIKE 'pyr-rare-%%' ON CONFLICT DO NOTHING")


@pytest.mark.parametrize("tags", [("pyr-rare-a",), ("pyr-rare-a", "pyr-rare-b")])
def test_a_tags_pass_reads_the_tags_rows_not_every_entry(app, sql, tags):
    """Whatever the table's size: the pass of a tag filter finds its entries by the tag's
    index and reads each by its key, no scan of `entries` (a hash join read every entry
    for a tag on one in ten: 1.0-4.1 s at 1,000,000), writes no tag facet (the facet
    lifts the tag filter: nothing would read it), and samples no page to choose its way.
    The statement the pass sent is explained under its own settings."""
    sql(RARE_TAGS)  # on a few entries (earlier tests may have put the demo's on most)
    with app.app_context():
        engine = db.engine
        with statements_sent(engine) as sent:
            counts = filter_pass.pass_for(EntryFilter(tags=tags))
        db.session.remove()
    assert counts is not None and not counts.complement
    settings = [s for s in sent if s.sql.lstrip().upper().startswith("SET LOCAL")]
    rows = next(s for s in sent if "CREATE TEMPORARY TABLE atlas_pass_rows" in s.sql)
    with connect(app) as conn, conn.cursor() as cur:
        for s in settings:
            cur.execute(s.sql, s.parameters or None)
        cur.execute("EXPLAIN (FORMAT JSON) " + rows.sql.split(" AS ", 1)[1], rows.parameters)
        read = scans_of(cur.fetchone()[0][0]["Plan"], ("entries", "entry_tags"))
        conn.rollback()
    conn.close()
    assert {relation for _, relation, _ in read} == {"entries", "entry_tags"}, read
    assert all(bounded for _, _, bounded in read), read
    assert not [s for s in sent if "map_filter_tags" in s.sql]
    # Whether it keeps most entries: the tag facets bound it (a few, here), no sample.
    assert not [s for s in sent if "TABLESAMPLE" in s.sql]


def test_a_filtered_view_reads_its_pass_not_the_entries(app):
    """After its first block, every block of a searched view, at any zoom, reads counts;
    the entries only for a lone marker's own row."""
    app.test_client().get("/map/blocks/4/2/1.json?q=epicerie")  # counts the pass
    with app.app_context():
        placed = db.session.execute(
            select(func.atlas_cell_x(func.ST_X(Entry.geom), pyramid.GRID << 12),
                   func.atlas_cell_y(func.ST_Y(Entry.geom), pyramid.GRID << 12))
            .where(*conditions(EntryFilter(text="epicerie", located=True)))).all()
        db.session.remove()
    for z in (2, 9, 12):
        by_tile = Counter((gx >> (BASE - z) >> 2, gy >> (BASE - z) >> 2) for gx, gy in placed)
        (x, y), n = by_tile.most_common(1)[0]
        read, answer = entries_rows_read(app, f"/map/cells/{z}/{x}/{y}.json?q=epicerie")
        assert answer["total"] == n > 1
        assert read <= len(answer["markers"]), (z, read)


def test_concurrent_requests_share_one_pass(app, sql):
    sql("UPDATE entries SET name = name WHERE slug = (SELECT min(slug) FROM entries)")
    f = EntryFilter(text="jardin")
    ids: list = []

    def ask() -> None:
        with app.app_context():
            ids.append(filter_pass.pass_for(f))
            db.session.remove()

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(ids) == 4 and len(set(ids)) == 1 and ids[0] is not None
    with reader(app).cursor() as cur:
        cur.execute("SELECT count(*) FROM map_filter_passes WHERE id = %s", (ids[0].id,))
        assert cur.fetchone()[0] == 1


def test_passes_are_bounded_and_those_of_another_state_dropped(app, sql, monkeypatch):
    monkeypatch.setattr(filter_pass, "KEPT", 2)
    monkeypatch.setattr(filter_pass, "GRACE", 0)
    with app.app_context():
        old = filter_pass.pass_for(EntryFilter(text="atelier")).id
        db.session.remove()
    sql("UPDATE entries SET name = name WHERE slug = (SELECT min(slug) FROM entries)")
    made = []
    with app.app_context():
        for word in ("atelier", "jardin", "cafe", "epicerie"):
            made.append(filter_pass.pass_for(EntryFilter(text=word)).id)
        db.session.remove()
    with reader(app).cursor() as cur:
        cur.execute("SELECT id FROM map_filter_passes ORDER BY id")
        kept = [row[0] for row in cur.fetchall()]
        cur.execute("SELECT count(*) FROM map_filter_chunks WHERE pass_id <> ALL(%s)", (kept,))
        orphans = cur.fetchone()[0]
    assert old not in kept and kept == made[-2:] and orphans == 0


def test_the_map_counts_job_folds_every_change_in(app, sql):
    from app.jobs.config import load_jobs
    from app.jobs.runner import run_job

    sql(ENTRY.format(geom=LILLE), "pyr-job", "published")
    sql("UPDATE entries SET geom = ST_Translate(geom, 0.001, 0) WHERE slug = 'pyr-job'")
    assert pending(app) >= 2
    with app.app_context():
        result = run_job(load_jobs()["map-counts"])
        assert result.run.outcome == "succeeded", result.run.message
        db.session.remove()
    assert pending(app) == 0
    assert_agrees(app)
