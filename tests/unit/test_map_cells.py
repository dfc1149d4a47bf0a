"""The map's clusters by tile (app/web/map_cells.py) agree with the single file and app.query."""

import math
import re
from html import unescape

import orjson
import pytest
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.query import EntryFilter, count_entries
from app.query.filters import parse_filter
from app.web.map_cells import MAX_CELL_ZOOM
from tests.support.statements import statements_sent

FILTERS = ["", "tag=grocery", "q=epicerie", "kind=third_place&q=cafe"]
LILLE = (2.9, 50.5, 3.3, 50.8)  # a view: west, south, east, north


def get(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.data[:300]
    return orjson.loads(response.data)


def tile_of(lon, lat, z):
    n = 2 ** z
    x = min(n - 1, int((lon + 180) / 360 * n))
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def expected_total(query):
    f = parse_filter(MultiDict([p.split("=") for p in query.split("&") if p]))
    return count_entries(EntryFilter(**{**f.__dict__, "located": True}))


@pytest.mark.parametrize("query", FILTERS)
def test_cluster_counts_add_up_to_the_filtered_total(client, app, query):
    z = 2
    tiles = [get(client, f"/map/cells/{z}/{x}/{y}.json?{query}")
             for x in range(4) for y in range(4)]
    with app.app_context():
        total = expected_total(query)
    assert total > 0
    assert sum(t["total"] for t in tiles) == total
    assert sum(c[0] for t in tiles for c in t["cells"]) + sum(
        len(t["markers"]) for t in tiles) == total
    for t in tiles:
        for count, _lon, _lat, *per_kind in t["cells"]:
            assert count > 1 and sum(per_kind) == count


@pytest.mark.parametrize("query", FILTERS)
def test_markers_are_the_single_files_for_the_same_view(client, query):
    doc = get(client, f"/map/markers.json?{query}")
    west, south, east, north = LILLE
    in_view = {tuple(m) for m in doc["markers"]
               if west <= m[2] <= east and south <= m[3] <= north}
    assert in_view
    z = MAX_CELL_ZOOM + 1  # every entry a marker
    tiles = {tile_of(m[2], m[3], z) for m in in_view}
    got = set()
    for x, y in tiles:
        got |= {tuple(m) for m in get(client, f"/map/cells/{z}/{x}/{y}.json?{query}")["markers"]}
    assert {m for m in got if west <= m[2] <= east and south <= m[3] <= north} == in_view
    # At a city zoom, the lone entries of a cell are the file's markers, to the metre.
    z = 12
    for x, y in {tile_of(m[2], m[3], z) for m in in_view}:
        for m in get(client, f"/map/cells/{z}/{x}/{y}.json?{query}")["markers"]:
            assert tuple(m) in {tuple(m) for m in doc["markers"]}


def test_past_the_threshold_the_file_says_cells_with_the_total(app, client):
    small = get(client, "/map/markers.json?tag=grocery")
    assert small["mode"] == "file" and small["total"] == len(small["markers"]) > 0
    saved = app.config["MAP_FILE_MAX_MARKERS"]
    app.config["MAP_FILE_MAX_MARKERS"] = 1
    try:
        big = get(client, "/map/markers.json?tag=grocery")
    finally:
        app.config["MAP_FILE_MAX_MARKERS"] = saved
    assert big["mode"] == "cells" and big["markers"] == [] and big["total"] == small["total"]
    assert big["facets"] == small["facets"] and big["unlocated"] == small["unlocated"]


def test_a_tile_outside_the_grid_is_a_404_and_a_bad_filter_a_400(client):
    assert client.get("/map/cells/3/8/0.json").status_code == 404
    bad = client.get("/map/cells/3/1/1.json?kind=castle")
    assert bad.status_code == 400 and bad.json["parameter"] == "kind"


def test_a_tile_revalidates_from_the_data_state(client):
    first = client.get("/map/cells/5/16/10.json")
    again = client.get("/map/cells/5/16/10.json", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def statements_of(app, client, url):
    """The answer to `url` and the number of SQL statements it took to build."""
    app.extensions.pop("atlas_markers", None)  # the bodies kept: built again
    with app.app_context():
        engine = db.engine
    with statements_sent(engine) as seen:
        answer = get(client, url)
    return answer, len(seen)


@pytest.mark.parametrize("query", ["", "q=epicerie"])  # the count pyramid's, a scan's
def test_a_block_is_its_tiles_in_one_answer_and_one_statement(app, client, query):
    """What map.js asks for: BLOCK × BLOCK tiles (the world below zoom 2) in one answer,
    for the statements of one tile."""
    for z in (1, 5, 13):
        x, y = tile_of(3.06, 50.63, z)  # Lille
        span = min(4, 2 ** z)
        bx, by = x // span, y // span
        _tile, tile_statements = statements_of(
            app, client, f"/map/cells/{z}/{x}/{y}.json?{query}")
        block, block_statements = statements_of(
            app, client, f"/map/blocks/{z}/{bx}/{by}.json?{query}")
        tiles = [get(client, f"/map/cells/{z}/{tx}/{ty}.json?{query}")
                 for tx in range(bx * span, bx * span + span)
                 for ty in range(by * span, by * span + span)]
        assert (block["z"], block["x"], block["y"], block["span"]) == (z, bx, by, span)
        assert block["total"] == sum(t["total"] for t in tiles) > 0, z
        assert sorted(block["cells"]) == sorted(c for t in tiles for c in t["cells"]), z
        assert block["markers"] == sorted((m for t in tiles for m in t["markers"]),
                                          key=lambda m: m[0]), z
        assert block_statements <= tile_statements, (z, block_statements, tile_statements)


def test_a_block_outside_the_grid_is_a_404_and_revalidates(client):
    assert client.get("/map/blocks/1/1/0.json").status_code == 404  # one block: the world
    assert client.get("/map/blocks/3/2/0.json").status_code == 404  # 8 tiles: 2 blocks
    assert client.get("/map/blocks/3/1/1.json?kind=castle").json["parameter"] == "kind"
    first = client.get("/map/blocks/3/1/1.json")
    assert first.status_code == 200
    assert first.headers["ETag"] != client.get("/map/cells/3/1/1.json").headers["ETag"]
    again = client.get("/map/blocks/3/1/1.json", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_the_first_entries_by_name_are_read_in_index_order(app, session):
    """The map page's no-script list (and the directory's default order) at any size."""
    from sqlalchemy import text
    from sqlalchemy.dialects import postgresql

    from app.query.entries import entry_select

    stmt = entry_select(EntryFilter(), sort="name").limit(20)
    sql = str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(r[0] for r in session.execute(text("EXPLAIN " + sql)))
    session.rollback()
    assert "ix_entries_name_sort" in plan and "Sort" not in plan.split("->")[1], plan


def test_the_map_page_counts_once_per_data_state_and_sees_a_write(app, client, session):
    """The list without JavaScript: its facets, total and entries are kept per data state
    (a scan each at 1M)."""
    from sqlalchemy import update

    from app.models import Entry

    def page():
        with app.app_context():
            engine = db.engine
        with statements_sent(engine) as seen:
            response = client.get("/?kind=initiative&page=1")
        assert response.status_code == 200
        return response.get_data(as_text=True), len(seen)

    # What an earlier test of this worker kept for the same page and data state would
    # make the first request a cached one too.
    app.extensions.pop("atlas_markers", None)
    app.extensions.pop("atlas_per_state", None)
    first, n_first = page()
    _, n_again = page()
    assert n_again <= n_first - 3  # facets (2 queries), total, list
    slug = get(client, "/map/markers.json?kind=initiative")["markers"][0][0]
    session.execute(update(Entry).where(Entry.slug == slug).values(name="Aaa renommée"))
    session.commit()
    fresh, _ = page()
    assert "Aaa renommée" in fresh and "Aaa renommée" not in first


@pytest.mark.parametrize("query", ["q=epicerie", "tag=grocery", "q=cafe&kind=third_place"])
def test_the_map_page_counts_nothing_its_script_asks_for(app, client, query):
    """With JavaScript the map page waits for no count of the filter and lists nothing: its
    script shows the markers file's counts, whose pass starts at once (a tag's count and
    the no-script list held the page 2-4 s at 1,000,000 entries). Its <noscript> sends a
    visitor without JavaScript to the list (`page=1`)."""
    with app.app_context():
        engine = db.engine
    app.extensions.pop("atlas_per_state", None)
    with statements_sent(engine) as sent:
        response = client.get(f"/?{query}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    read = [s.sql for s in sent if "atlas_pass_rows" in s.sql or "@@" in s.sql
            or "entry_tags" in s.sql or "ORDER BY atlas_unaccent" in s.sql]
    assert not read, read
    target = "/?" + query.replace("&", "&amp;") + "&amp;page=1"  # as HTML escapes it
    assert f'<meta http-equiv="refresh" content="0; url={target}">' in html
    assert f'href="{target}"' in html and 'class="entry-list"' not in html


def listed_names(html: str) -> list[str]:
    return re.findall(r'<h2 class="entry-card-title"><a href="[^"]+">([^<]+)</a>', html)


@pytest.mark.parametrize("query", ["", "kind=third_place&"])
def test_without_javascript_the_map_lists_its_entries_a_page_at_a_time(app, client, query):
    """The map's list for a visitor without JavaScript: the entries of its filter by name,
    20 a page, with the links between pages, as the directory orders them."""
    from app.query import search_entries

    f = parse_filter(MultiDict([p.split("=") for p in query.rstrip("&").split("&") if p]))
    expected = [e.name for e in search_entries(f, sort="name")]
    assert len(expected) > 20
    seen: list[str] = []
    page, pages = 1, -(-len(expected) // 20)
    while True:
        response = client.get(f"/?{query}page={page}")
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        names = listed_names(html)
        assert 0 < len(names) <= 20
        seen += [unescape(n) for n in names]
        assert 'http-equiv="refresh"' not in html
        link = "?" + query.replace("&", "&amp;") + "page={}"  # as HTML escapes it
        assert (f'rel="next" href="{link.format(page + 1)}"' in html) == (page < pages)
        assert (f'rel="prev" href="{link.format(page - 1)}"' in html) == (page > 1)
        if page == pages:
            break
        page += 1
    assert seen == expected
    assert client.get(f"/?{query}page={pages + 1}").status_code == 404
    bad = client.get(f"/?{query}page=zero")
    assert bad.status_code == 400 and b"page" in bad.data


@pytest.mark.parametrize("query", ["q=epicerie", "kind=third_place&q=cafe"])
def test_a_searched_files_totals_and_kinds_come_from_one_pass(app, client, query):
    """A filter the count pyramid does not hold: the file's located and unlocated totals
    and its kind and tag facets come from the filter's pass (app/query/filter_pass.py,
    one scan of the matches per data state, which the view's blocks read too)."""

    from app.query.facets import kind_counts, tag_counts

    with app.app_context():
        engine = db.engine
    saved = app.config["MAP_FILE_MAX_MARKERS"]
    app.config["MAP_FILE_MAX_MARKERS"] = 0  # cells mode: no markers in the file
    try:
        with statements_sent(engine) as sent:
            app.extensions.pop("atlas_markers", None)
            app.extensions.pop("atlas_per_state", None)
            doc = get(client, f"/map/markers.json?{query}")
    finally:
        app.config["MAP_FILE_MAX_MARKERS"] = saved
    scans = [s.sql for s in sent if "@@" in s.sql and "atlas_pass_rows" not in s.sql]
    passes = [s.sql for s in sent if "CREATE TEMPORARY TABLE atlas_pass_rows" in s.sql]
    assert doc["mode"] == "cells"
    # All from the filter's pass (counted here, or already by a block of its view).
    assert not scans and len(passes) <= 1, scans
    f = parse_filter(MultiDict([p.split("=") for p in query.split("&")]))
    with app.app_context():
        assert doc["total"] == count_entries(EntryFilter(**{**f.__dict__, "located": True})) > 0
        assert doc["unlocated"] == count_entries(EntryFilter(**{**f.__dict__, "located": False}))
        assert doc["facets"] == {"kind": kind_counts(f), "tag": tag_counts(f)}


def test_a_searched_map_page_and_its_file_share_their_counts(app, client):
    """The no-script list's facets and total and its file's totals come from the same
    passes, kept per data state: for a search, the filter's pass (kinds by place, tags)
    and one scan (the list), none more for the file."""
    with app.app_context():
        engine = db.engine
    saved = app.config["MAP_FILE_MAX_MARKERS"]
    app.config["MAP_FILE_MAX_MARKERS"] = 0
    app.extensions.pop("atlas_markers", None)
    app.extensions.pop("atlas_per_state", None)
    try:
        with statements_sent(engine) as sent:
            page = client.get("/?q=epicerie&page=1")
            doc = get(client, "/map/markers.json?q=epicerie")
    finally:
        app.config["MAP_FILE_MAX_MARKERS"] = saved
    scans = [s.sql for s in sent if "@@" in s.sql and "atlas_pass_rows" not in s.sql]
    passes = [s.sql for s in sent if "CREATE TEMPORARY TABLE atlas_pass_rows" in s.sql]
    assert page.status_code == 200 and doc["mode"] == "cells"
    assert len(scans) == 1 and len(passes) <= 1, scans  # the no-script list
    from app.web.per_state import map_count

    with app.app_context():
        total = count_entries(EntryFilter(text="epicerie"))
        assert doc["total"] + doc["unlocated"] == total > 0
        for f in (EntryFilter(text="epicerie"), EntryFilter(text="cafe", kinds=("third_place",)),
                  EntryFilter(text="epicerie", located=False), EntryFilter()):
            assert map_count(f) == count_entries(f), f
