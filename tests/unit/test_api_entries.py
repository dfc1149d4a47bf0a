"""The JSON API (/api/v1) on the demo data: filters, keyset pages, details, errors, HTTP.

Expected answers come from data/demo/lille.toml (tests/demo_data.py), not from the SQL.
"""

from collections import Counter

import pytest

from app.query import ParameterError
from app.query.paging import MAX_LIMIT, parse_limit
from tests import demo_data


def follow(client, url):
    """Every item of a paged list, following `next` links; also the number of pages."""
    items, pages = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        items += body["items"]
        pages += 1
        url = body["next"]
        if url:
            assert response.headers["Link"] == f'<{url}>; rel="next"'
            url = url.replace("http://localhost", "")
    return items, pages


def test_pages_cover_the_base_once_in_id_order(client):
    items, pages = follow(client, "/api/v1/entries?limit=7")
    expected = {e["slug"] for e in demo_data.entries()}
    assert [i["slug"] for i in items].__len__() == len(expected)
    assert {i["slug"] for i in items} == expected
    assert pages == -(-len(expected) // 7)
    assert [i["id"] for i in items] == sorted(i["id"] for i in items)


@pytest.mark.parametrize("sort", ["name", "-name", "updated", "-created"])
def test_keyset_pages_in_every_sort_equal_one_big_page(client, sort):
    whole = client.get(f"/api/v1/entries?sort={sort}&limit=1000").get_json()["items"]
    paged, _ = follow(client, f"/api/v1/entries?sort={sort}&limit=9")
    assert [i["id"] for i in paged] == [i["id"] for i in whole]
    assert len(paged) == len(demo_data.entries())


def test_relevance_pages_keep_their_order(client):
    whole = client.get("/api/v1/entries?q=lille&sort=relevance&limit=1000").get_json()["items"]
    assert len(whole) > 6
    paged, pages = follow(client, "/api/v1/entries?q=lille&sort=relevance&limit=4")
    assert pages > 1
    assert [i["id"] for i in paged] == [i["id"] for i in whole]


def test_filters_match_the_demo_file(client):
    box = (3.03, 50.62, 3.08, 50.64)
    inside = {e["slug"] for e in demo_data.located()
              if box[0] <= e["lon"] <= box[2] and box[1] <= e["lat"] <= box[3]}
    got = client.get("/api/v1/entries?limit=1000&bbox=" + ",".join(map(str, box))).get_json()
    assert {i["slug"] for i in got["items"]} == inside

    commons = {e["slug"] for e in demo_data.entries() if e["kind"] == "commons"}
    got = client.get("/api/v1/entries?kind=commons&limit=1000").get_json()["items"]
    assert {i["slug"] for i in got} == commons

    tagged = {e["slug"] for e in demo_data.entries()
              if {"repair", "grocery"} & set(e.get("tags", []))}
    for query in ("tag=repair&tag=grocery", "tag=repair,grocery"):
        got = client.get(f"/api/v1/entries?{query}&limit=1000").get_json()["items"]
        assert {i["slug"] for i in got} == tagged

    roubaix = {e["slug"] for e in demo_data.entries() if e.get("city") == "Roubaix"}
    got = client.get("/api/v1/entries?city=Roubaix&limit=1000").get_json()["items"]
    assert roubaix and {i["slug"] for i in got} == roubaix

    unlocated = {e["slug"] for e in demo_data.entries() if "lon" not in e}
    got = client.get("/api/v1/entries?located=false&limit=1000").get_json()["items"]
    assert {i["slug"] for i in got} == unlocated


def test_an_entry_carries_the_public_fields_of_the_demo(client):
    for source in demo_data.entries()[:10]:
        body = client.get(f"/api/v1/entries/{source['slug']}").get_json()
        assert body["name"] == source["name"]
        assert body["kind"] == source["kind"]
        assert body["tags"] == sorted(source.get("tags", []))
        assert (body["lon"], body["lat"]) == (source.get("lon"), source.get("lat"))
        assert "moderation" not in body and "deleted_at" not in body
        by_id = client.get(f"/api/v1/entries/{body['id']}").get_json()
        assert by_id == body


def test_relations_both_ways(client):
    slug = "mutualab"
    out = {(r["type"], r["target"]) for e in demo_data.entries() if e["slug"] == slug
           for r in e.get("relations", [])}
    incoming = {(r["type"], e["slug"]) for e in demo_data.entries()
                for r in e.get("relations", []) if r["target"] == slug}
    assert out and incoming
    items = client.get(f"/api/v1/entries/{slug}/relations").get_json()["items"]
    assert {(i["type"], i["entry"]["slug"]) for i in items if i["direction"] == "out"} == out
    assert {(i["type"], i["entry"]["slug"]) for i in items if i["direction"] == "in"} == incoming


def test_evaluations_of_an_entry(client):
    sheet = demo_data.demo()["evaluations"][0]
    items = client.get(f"/api/v1/entries/{sheet['entry']}/evaluations").get_json()["items"]
    published = sheet.get("state", "draft") == "published"
    assert len(items) == (1 if published else 0)
    if published:
        assert items[0]["title"] == sheet["title"]
        assert {a["key"] for a in items[0]["answers"]} == set(sheet["answers"])


def test_tags_and_keys(client):
    counts = Counter(t for e in demo_data.entries() for t in e.get("tags", []))
    items = client.get("/api/v1/tags").get_json()["items"]
    assert {i["slug"] for i in items} == {t["slug"] for t in demo_data.demo()["tags"]}
    assert {i["slug"]: i["entries"] for i in items} == {
        t["slug"]: counts[t["slug"]] for t in demo_data.demo()["tags"]}
    keys = client.get("/api/v1/evaluation-keys").get_json()["items"]
    assert [k["slug"] for k in keys][:6] == ["governance", "financing", "contribution",
                                            "sharing", "legal", "partners"]


@pytest.mark.parametrize(("query", "parameter"), [
    ("bbox=3.0,50.6,3.1", "bbox"),
    ("bbox=3.0,50.6,3.1,200", "bbox"),
    ("near=3.06,200", "near"),
    ("limit=0", "limit"),
    ("limit=-5", "limit"),
    ("limit=many", "limit"),
    ("tag=no-such-tag", "tag"),
    ("kind=castle", "kind"),
    ("sort=height", "sort"),
    ("sort=relevance", "sort"),
    ("cursor=not-a-cursor", "cursor"),
    ("updated_since=yesterday", "updated_since"),
    ("colour=blue", "colour"),
])
def test_bad_parameters_are_named_problems(client, query, parameter):
    response = client.get(f"/api/v1/entries?{query}")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 400
    assert body["invalid-params"][0]["name"] == parameter
    assert parameter in body["detail"]


def test_a_cursor_of_another_sort_is_refused(client):
    cursor = client.get("/api/v1/entries?limit=2").get_json()["next_cursor"]
    response = client.get(f"/api/v1/entries?limit=2&sort=name&cursor={cursor}")
    assert response.status_code == 400
    assert response.get_json()["invalid-params"][0]["name"] == "cursor"


def test_limit_is_clamped_not_refused(client):
    assert parse_limit("5000") == MAX_LIMIT
    assert parse_limit(None) == 100
    with pytest.raises(ParameterError):
        parse_limit("0")
    response = client.get("/api/v1/entries?limit=5000")
    assert response.status_code == 200
    assert len(response.get_json()["items"]) == len(demo_data.entries())


def test_unknown_ids_and_paths_are_404_problems(client):
    for url in ("/api/v1/entries/no-such-entry", "/api/v1/entries/no-such-entry/relations",
                "/api/v1/entries/00000000-0000-0000-0000-000000000000",
                "/api/v1/nothing-here", "/ogc/collections/nothing/items"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.mimetype == "application/problem+json"


def test_a_deleted_entry_is_gone(client, session):
    from app.services.entries import delete_entry, find_entry
    from app.services.revisions import Author

    entry = find_entry("mutualab")
    delete_entry(entry, expected_version=entry.version, author=Author(label="test"))
    response = client.get("/api/v1/entries/mutualab")
    assert response.status_code == 410
    assert response.get_json()["deleted_at"]
    listed = client.get("/api/v1/entries?limit=1000").get_json()["items"]
    assert "mutualab" not in {i["slug"] for i in listed}


def test_nul_characters_are_refused_not_crashed(client):
    response = client.get("/api/v1/entries?q=%00")
    assert response.status_code == 400
    assert response.get_json()["invalid-params"][0]["name"] == "q"


def test_etag_and_304(client):
    first = client.get("/api/v1/entries?limit=5")
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    assert first.headers["Cache-Control"] == "public, no-cache"
    again = client.get("/api/v1/entries?limit=5", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["ETag"] == etag
    other = client.get("/api/v1/entries?limit=6", headers={"If-None-Match": etag})
    assert other.status_code == 200


def test_etag_moves_when_data_changes(client, session):
    from app.services.entries import find_entry, update_entry
    from app.services.revisions import Author

    etag = client.get("/api/v1/entries/mutualab").headers["ETag"]
    entry = find_entry("mutualab")
    update_entry(entry, {"summary": "Changed for the test."}, expected_version=entry.version,
                 author=Author(label="test"))
    response = client.get("/api/v1/entries/mutualab", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.get_json()["summary"] == "Changed for the test."


def test_cors_for_reads(client):
    response = client.get("/api/v1/tags", headers={"Origin": "https://portal.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]
    preflight = client.options("/api/v1/entries", headers={
        "Origin": "https://portal.example", "Access-Control-Request-Method": "GET"})
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert "POST" not in preflight.headers["Access-Control-Allow-Methods"]


def test_openapi_document_and_docs_pages(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/v1/entries", "/api/v1/entries.geojson", "/api/v1/entries/{ref}",
                 "/api/v1/entries/{ref}/relations", "/api/v1/entries/{ref}/evaluations",
                 "/api/v1/tags", "/api/v1/evaluation-keys", "/api/v1/changes"):
        assert path in spec["paths"], path
    names = {p["name"] for p in spec["paths"]["/api/v1/entries"]["get"]["parameters"]}
    assert {"kind", "tag", "bbox", "near", "radius", "q", "status", "updated_since",
            "limit", "cursor"} <= names
    assert set(spec["components"]["schemas"]["Entry"]["properties"]) >= {
        "id", "slug", "lon", "lat", "tags", "version"}
    for page, asset in (("/api/docs", "/static/vendor/swagger-ui/swagger-ui-bundle.js"),
                        ("/api/redoc", "/static/vendor/redoc/redoc.standalone.js")):
        html = client.get(page).get_data(as_text=True)
        assert asset in html
        assert "//cdn" not in html and "https://" not in html.split("<body")[0]
        assert client.get(asset).status_code == 200
