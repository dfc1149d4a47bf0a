"""The tag pyramid (migration 0029, app/query/pyramid.py `tag_source`): per tag, the count
pyramid's cells, equal to a direct count of the public entries carrying the tag whatever
is written, committed late or folded in; a map filtered by one tag reads it, not the
entries, and counts no pass."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Entry
from app.models.vocab import ENTRY_KINDS
from app.query import EntryFilter, count_entries, pyramid
from app.query.entries import conditions
from app.query.facets import kind_counts, tag_counts
from app.web.map_cells import scanned_rows
from tests.conftest import raw_connection
from tests.support.api import fresh_app
from tests.unit.test_map_pyramid import entries_rows_read

BASE = pyramid.BASE_ZOOM
SIDE = pyramid.GRID << BASE
ZOOMS = (0, 5, 8, 12)  # a stored zoom and one between, the base and the facets'
LILLE = "ST_SetSRID(ST_MakePoint(3.07, 50.63), 4326)"
NANTES = "ST_SetSRID(ST_MakePoint(-1.55, 47.21), 4326)"


@pytest.fixture(scope="module")
def app(databases):
    app = fresh_app(databases, "tagpyramid")
    yield app
    if READER:
        READER.pop().close()


READER: list = []


def run(app, statement: str, *params) -> list[tuple]:
    """One statement committed on its own (a connection in autocommit, kept)."""
    if not READER:
        READER.append(raw_connection(app))
        READER[0].autocommit = True
    with READER[0].cursor() as cur:
        cur.execute(statement, params or None)
        return cur.fetchall() if cur.description else []


# What the pyramid must hold: GROUP BY over the public entries and their tags.
DIRECT = f"""
    SELECT t.tag_id, gx >> ({BASE} - z), gy >> ({BASE} - z), e.kind, count(*),
           sum(coalesce(atlas_cell_q(ST_X(e.geom)), 0)),
           sum(coalesce(atlas_cell_q(ST_Y(e.geom)), 0))
    FROM entries e JOIN entry_tags t ON t.entry_id = e.id,
         LATERAL (SELECT CASE WHEN e.geom IS NULL THEN -1
                              ELSE atlas_cell_x(ST_X(e.geom), {SIDE}) END AS gx,
                         CASE WHEN e.geom IS NULL THEN -1
                              ELSE atlas_cell_y(ST_Y(e.geom), {SIDE}) END AS gy) AS c
    WHERE e.moderation = 'published' AND e.deleted_at IS NULL
    GROUP BY 1, 2, 3, 4"""


def direct(app) -> dict[int, dict[tuple, tuple[int, int, int]]]:
    """Per zoom of ZOOMS, {(tag_id, gx, gy, kind): (n, Σ lon, Σ lat)}, from the entries."""
    return {z: {tuple(r[:4]): tuple(int(v) for v in r[4:])
                for r in run(app, DIRECT.replace("- z)", f"- {z})"))} for z in ZOOMS}


def counted(app, tags: list[int]) -> dict[int, dict[tuple, tuple[int, int, int]]]:
    """The same through the tag pyramid's reader (folded cells and changes), for `tags`."""
    out: dict[int, dict] = {z: {} for z in ZOOMS}
    with app.app_context():
        slugs = dict(db.session.execute(db.text("SELECT id, slug FROM tags")).all())
        for tag_id in tags:
            for z in ZOOMS:
                last = (pyramid.GRID << z) - 1
                u = pyramid.tag_source(slugs[tag_id])(z, -1, last, -1, last, ENTRY_KINDS)
                n = func.sum(u.c.n)
                rows = db.session.execute(
                    select(u.c.gx, u.c.gy, u.c.kind, n, func.sum(u.c.sx), func.sum(u.c.sy))
                    .group_by(u.c.gx, u.c.gy, u.c.kind).having(n != 0)).all()
                for gx, gy, kind, count, sx, sy in rows:
                    out[z][(tag_id, gx, gy, kind)] = (int(count), int(sx), int(sy))
        db.session.remove()
    return out


def stored(app) -> dict[int, dict[tuple, tuple[int, int, int]]]:
    """`tag_cells` and the changes not folded, per zoom of ZOOMS stored, straight."""
    rows = run(app, f"""
        SELECT z, tag_id, gx, gy, kind, sum(n), sum(sx), sum(sy) FROM (
            SELECT z, tag_id, gx, gy, kind, n, sx, sy FROM tag_cells
            UNION ALL
            SELECT z, tag_id, gx >> ({BASE} - z), gy >> ({BASE} - z), kind, n, sx, sy
            FROM tag_cell_changes, unnest(%s::int[]) AS z) AS u
        GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0 OR sum(sx) <> 0 OR sum(sy) <> 0""",
               list(pyramid.TAG_ZOOMS))
    out: dict[int, dict] = defaultdict(dict)
    for z, tag_id, gx, gy, kind, n, sx, sy in rows:
        out[z][(tag_id, gx, gy, kind)] = (int(n), int(sx), int(sy))
    return out


def compact(app) -> int:
    return run(app, "SELECT atlas_tag_cells_compact()")[0][0]


def assert_agrees(app) -> None:
    """The stored zooms of every tag equal the direct count, and so does the reader at
    every zoom of ZOOMS for the three tags on most entries (a read each per zoom)."""
    expected = direct(app)
    held = stored(app)
    for z in set(ZOOMS) & set(pyramid.TAG_ZOOMS):
        assert held.get(z, {}) == expected[z], z
    per_tag: Counter = Counter()
    for (tag_id, *_cell), (n, _sx, _sy) in expected[0].items():
        per_tag[tag_id] += n
    tags = [tag_id for tag_id, _n in per_tag.most_common(3)]
    assert counted(app, tags) == {z: {k: v for k, v in cells.items() if k[0] in tags}
                                  for z, cells in expected.items()}
    # The tag facets: zoom 0, a place or not.
    with app.app_context():
        for kinds in ((), ("third_place",)):
            for located in (None, True, False):
                f = EntryFilter(kinds=kinds, located=located)
                facets = dict(db.session.execute(db.text(
                    "SELECT t.slug, count(*) FROM entries e JOIN entry_tags et"
                    " ON et.entry_id = e.id JOIN tags t ON t.id = et.tag_id"
                    " WHERE e.moderation = 'published' AND e.deleted_at IS NULL"
                    " AND (cardinality(CAST(:kinds AS text[])) = 0"
                    "      OR e.kind = ANY(CAST(:kinds AS text[])))"
                    " AND (CAST(:located AS boolean) IS NULL"
                    "      OR (e.geom IS NOT NULL) = :located)"
                    " GROUP BY t.slug"), {"kinds": list(kinds), "located": located}).all())
                assert tag_counts(f) == facets, f
        db.session.remove()


ENTRY = ("INSERT INTO entries (slug, kind, name, geom, moderation) VALUES "
         "(%s, 'commons', 'Tagged', {geom}, 'published')")
TAG_ALL = ("INSERT INTO entry_tags (entry_id, tag_id) SELECT e.id, t.id FROM entries e, tags t"
           " WHERE e.slug LIKE %s ON CONFLICT DO NOTHING")
# An entry with tags (the smallest slug of the tagged public ones placed), by its slug.
TAGGED = ("(SELECT min(e.slug) FROM entries e JOIN entry_tags t ON t.entry_id = e.id"
          " WHERE e.moderation = 'published' AND e.deleted_at IS NULL AND e.geom IS NOT NULL)")
WRITES = {
    "created-and-tagged": [(ENTRY.format(geom=LILLE), "tp-lille"),
                           (ENTRY.format(geom="NULL"), "tp-nowhere"),
                           (TAG_ALL, "tp-%")],
    "tag-given": [("INSERT INTO entry_tags (entry_id, tag_id) SELECT e.id, t.id"
                   " FROM entries e, (SELECT id FROM tags ORDER BY id LIMIT 2) t"
                   " WHERE e.geom IS NOT NULL ON CONFLICT DO NOTHING",)],
    "tag-taken": [("DELETE FROM entry_tags WHERE tag_id = (SELECT min(tag_id) FROM entry_tags)"
                   " AND entry_id IN (SELECT id FROM entries ORDER BY slug LIMIT 5)",)],
    "retagged": [("UPDATE entry_tags SET tag_id = (SELECT min(t.id) FROM tags t WHERE NOT"
                  " EXISTS (SELECT 1 FROM entry_tags x WHERE x.entry_id = entry_tags.entry_id"
                  " AND x.tag_id = t.id)) WHERE (entry_id, tag_id) = (SELECT entry_id,"
                  " min(tag_id) FROM entry_tags WHERE entry_id = (SELECT id FROM entries"
                  f" WHERE slug = {TAGGED}) GROUP BY entry_id)",)],
    "moved-across-the-map": [(f"UPDATE entries SET geom = {NANTES} WHERE slug = {TAGGED}",)],
    "moved-within-its-cell": [("UPDATE entries SET geom = ST_Translate(geom, 1e-6, -1e-6)"
                               f" WHERE slug = {TAGGED}",)],
    "moved-many": [("UPDATE entries SET geom = ST_Translate(geom, 0.05, 0.02)"
                    " WHERE geom IS NOT NULL",)],
    "unplaced": [(f"UPDATE entries SET geom = NULL WHERE slug = {TAGGED}",)],
    "placed-again": [(f"UPDATE entries SET geom = {LILLE} WHERE geom IS NULL",)],
    "kind-changed": [("UPDATE entries SET kind = CASE kind WHEN 'commons' THEN 'initiative'"
                      f" ELSE 'commons' END WHERE slug = {TAGGED}",)],
    "unpublished": [(f"UPDATE entries SET moderation = 'pending' WHERE slug = {TAGGED}",)],
    "tombstoned": [(f"UPDATE entries SET deleted_at = now() WHERE slug = {TAGGED}",)],
    "published-again": [("UPDATE entries SET moderation = 'published', deleted_at = NULL"
                         " WHERE moderation <> 'published' OR deleted_at IS NOT NULL",)],
    "renamed-only": [("UPDATE entries SET name = name || ' !'",)],
    "deleted-with-its-tags": [(f"DELETE FROM entries WHERE slug = {TAGGED}",),
                              ("DELETE FROM entries WHERE slug LIKE 'tp-%'",)],
    "tag-removed": [("DELETE FROM tags WHERE id = (SELECT max(tag_id) FROM entry_tags)",)],
}
NEUTRAL = {"renamed-only"}


def test_the_demo_load_is_counted_and_folds_in(app):
    assert direct(app)[0], "no public entry has a tag"
    assert_agrees(app)
    compact(app)
    assert run(app, "SELECT count(*) FROM tag_cell_changes")[0][0] == 0
    assert_agrees(app)


@pytest.mark.parametrize("write", list(WRITES), ids=list(WRITES))
def test_the_tag_pyramid_equals_a_direct_count_after(app, write):
    before = direct(app)
    for statement, *params in WRITES[write]:
        run(app, statement, *params)
    if write not in NEUTRAL:
        assert direct(app) != before, "the write changed nothing the tag pyramid counts"
    assert_agrees(app)  # with the changes not folded yet
    compact(app)
    assert_agrees(app)


def test_a_late_commit_is_counted_when_it_shows(app):
    """A writes first and commits last (an entry tagged, a tagged entry moved); B tags
    entries, commits and is folded in meanwhile."""
    early, late = raw_connection(app), raw_connection(app)
    try:
        with early.cursor() as cur:
            cur.execute(ENTRY.format(geom=LILLE), ("tp-early",))
            cur.execute(TAG_ALL, ("tp-early",))
            cur.execute(f"UPDATE entries SET geom = {NANTES} WHERE slug = {TAGGED}")
        with late.cursor() as cur:
            cur.execute("INSERT INTO entry_tags (entry_id, tag_id) SELECT e.id, t.id"
                        " FROM entries e, tags t WHERE e.slug = (SELECT max(slug) FROM"
                        " entries WHERE moderation = 'published' AND geom IS NOT NULL)"
                        " ON CONFLICT DO NOTHING")
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


def test_a_truncate_empties_it_and_it_counts_again(app):
    run(app, "TRUNCATE entry_tags")
    assert run(app, "SELECT count(*) FROM tag_cells")[0][0] == 0
    assert run(app, "SELECT count(*) FROM tag_cell_changes")[0][0] == 0
    run(app, "INSERT INTO entry_tags (entry_id, tag_id) SELECT e.id, t.id FROM entries e,"
             " tags t WHERE hashtext(e.slug || t.slug) % 3 = 0")
    assert_agrees(app)


def densest_tag(app) -> tuple[str, int]:
    """The tag on the most public placed entries, and that count."""
    slug, n = run(app, "SELECT t.slug, count(*) FROM entries e JOIN entry_tags et"
                       " ON et.entry_id = e.id JOIN tags t ON t.id = et.tag_id"
                       " WHERE e.moderation = 'published' AND e.deleted_at IS NULL"
                       " AND e.geom IS NOT NULL GROUP BY t.slug ORDER BY 2 DESC, 1 LIMIT 1")[0]
    return slug, n


@pytest.mark.parametrize("kinds", [(), ("commons", "initiative")])
def test_blocks_of_one_tag_are_those_of_the_scan(app, kinds):
    """Cells, per-kind counts, mean positions and lone markers, folded or not, at a stored
    zoom and between two."""
    slug, _n = densest_tag(app)
    run(app, "UPDATE entries SET geom = ST_Translate(geom, 0.002, 0.001) WHERE geom IS NOT"
             " NULL AND slug IN (SELECT slug FROM entries ORDER BY slug LIMIT 10)")
    f = EntryFilter(kinds=kinds, tags=(slug,))
    assert pyramid.serves(f)
    for fold in (False, True):
        if fold:
            compact(app)
        with app.app_context():
            for z in (3, 7, 12):
                placed = db.session.execute(
                    select(func.atlas_cell_x(func.ST_X(Entry.geom), pyramid.GRID << z),
                           func.atlas_cell_y(func.ST_Y(Entry.geom), pyramid.GRID << z))
                    .where(*conditions(EntryFilter(tags=(slug,), located=True)))).all()
                blocks = {(gx >> 4 << 2, gy >> 4 << 2) for gx, gy in placed}
                assert blocks
                for x, y in blocks:
                    block = pyramid.tile_cells(f, z, x, y, 4)
                    assert block == scanned_rows(f, z, x, y, 4), (z, x, y)
            db.session.remove()


def test_one_tag_is_counted_from_the_tag_pyramid_with_no_pass(app):
    """The map's answers for one tag (blocks, tiles, the markers file's totals, the page)
    read counts, not the entries (a lone marker's own row at most), and count no pass;
    two tags still count theirs."""
    compact(app)
    run(app, "DELETE FROM map_filter_passes")
    run(app, "UPDATE entries SET name = name WHERE slug = (SELECT min(slug) FROM entries)")
    slug, n = densest_tag(app)
    assert n > 1
    (x, y), = run(app, "SELECT atlas_cell_x(ST_X(e.geom), 4) / 4, atlas_cell_y(ST_Y(e.geom), 4)"
                       " / 4 FROM entries e JOIN entry_tags et ON et.entry_id = e.id JOIN tags"
                       " t ON t.id = et.tag_id WHERE t.slug = %s AND e.geom IS NOT NULL"
                       " LIMIT 1", slug)
    read, answer = entries_rows_read(app, f"/map/blocks/0/0/0.json?tag={slug}")
    assert answer["total"] == n
    assert read <= len(answer["markers"]), read
    read, answer = entries_rows_read(app, f"/map/cells/0/{x}/{y}.json?tag={slug}")
    assert answer["total"] == n and read <= len(answer["markers"]), read
    client = app.test_client()
    markers = json.loads(client.get(f"/map/markers.json?tag={slug}").data)
    assert markers, "no markers answer"
    assert client.get(f"/?tag={slug}").status_code == 200
    with app.app_context():
        f = EntryFilter(tags=(slug,))
        assert count_entries(f) == db.session.scalar(
            select(func.count()).select_from(Entry).where(*conditions(f)))
        assert kind_counts(f) == dict(db.session.execute(
            select(Entry.kind, func.count()).where(*conditions(f)).group_by(Entry.kind)).all())
        db.session.remove()
    assert run(app, "SELECT count(*) FROM map_filter_passes")[0][0] == 0
    other = run(app, "SELECT slug FROM tags WHERE slug <> %s ORDER BY slug LIMIT 1", slug)[0][0]
    assert client.get(f"/map/blocks/0/0/0.json?tag={slug}&tag={other}").status_code == 200
    assert run(app, "SELECT count(*) FROM map_filter_passes")[0][0] == 1


def test_an_unknown_tag_has_no_counts(app):
    with app.app_context():
        f = EntryFilter(tags=("aucun-tel-tag",))
        assert pyramid.serves(f)
        assert pyramid.tile_cells(f, 0, 0, 0) == []
        assert count_entries(f) == 0
        db.session.remove()


def test_a_reader_folds_the_tag_changes_past_their_own_pile(app, monkeypatch):
    """Readers fold the tag pyramid's changes past TAG_PILE (higher than the map's PILE:
    a block reads its tag's changes by index), the oldest first, FOLD at most."""
    compact(app)
    run(app, "INSERT INTO entry_tags (entry_id, tag_id) SELECT e.id, t.id FROM entries e,"
             " tags t WHERE e.geom IS NOT NULL ON CONFLICT DO NOTHING")
    run(app, "UPDATE entries SET geom = ST_Translate(geom, 0.01, 0) WHERE slug = (SELECT"
             " min(slug) FROM entries WHERE geom IS NOT NULL)")

    def piled() -> int:
        return run(app, "SELECT count(*) FROM tag_cell_changes")[0][0]

    before = piled()
    assert before >= 2
    client = app.test_client()
    monkeypatch.setattr(pyramid, "TAG_PILE", before)
    assert client.get("/map/markers.json?kind=commons").status_code == 200
    assert piled() == before  # not past the pile: nothing folded
    monkeypatch.setattr(pyramid, "TAG_PILE", before - 1)
    monkeypatch.setattr(pyramid, "FOLD", 1)
    assert client.get("/map/markers.json?kind=initiative").status_code == 200
    assert piled() == before - 1
    monkeypatch.setattr(pyramid, "TAG_PILE", 0)
    monkeypatch.setattr(pyramid, "FOLD", 50_000)
    assert client.get("/map/markers.json?kind=third_place").status_code == 200
    assert piled() == 0
    assert_agrees(app)
