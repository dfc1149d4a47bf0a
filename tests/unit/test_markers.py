"""The map's marker document: every located published entry, compact, filtered by app.query."""

import gzip

import orjson

from app.query import EntryFilter, count_entries
from tests import demo_data


def fetch(client, query="", **headers):
    response = client.get(f"/map/markers.json{query}", headers=headers)
    assert response.status_code == 200, response.data[:300]
    return orjson.loads(response.data), response


def test_every_located_entry_once_with_its_position(client):
    doc, _ = fetch(client)
    kinds = doc["kinds"]
    got = {slug: (kinds[k], lon, lat, name) for slug, k, lon, lat, name in doc["markers"]}
    assert len(got) == len(doc["markers"])
    expected = {e["slug"]: (e["kind"], e["lon"], e["lat"], e["name"]) for e in demo_data.located()}
    assert got.keys() == expected.keys()
    for slug, (kind, lon, lat, name) in expected.items():
        assert got[slug][0] == kind and got[slug][3] == name
        assert abs(got[slug][1] - lon) <= 5e-6 and abs(got[slug][2] - lat) <= 5e-6
    assert doc["unlocated"] == len(demo_data.entries()) - len(demo_data.located())


def test_the_count_agrees_with_the_query_layer(client):
    doc, _ = fetch(client)
    assert len(doc["markers"]) == count_entries(EntryFilter(located=True))


def test_filters_are_the_query_layers(client):
    doc, _ = fetch(client, "?kind=third_place&tag=grocery")
    expected = {e["slug"] for e in demo_data.located()
                if e["kind"] == "third_place" and "grocery" in e.get("tags", [])}
    assert {m[0] for m in doc["markers"]} == expected and expected
    assert doc["facets"]["kind"]["third_place"] == sum(
        1 for e in demo_data.entries() if e["kind"] == "third_place"
        and "grocery" in e.get("tags", []))


def test_french_search_without_accents(client):
    doc, _ = fetch(client, "?q=epicerie")
    names = {m[4] for m in doc["markers"]}
    groceries = {e["name"] for e in demo_data.located() if "grocery" in e.get("tags", [])}
    assert groceries and groceries <= names


def test_bad_parameter_is_a_json_400_naming_it(client):
    response = client.get("/map/markers.json?kind=castle")
    assert response.status_code == 400
    assert response.json["parameter"] == "kind" and "castle" in response.json["error"]
    assert client.get("/map/markers.json?tag=no-such-tag").json["parameter"] == "tag"


def test_gzip_and_revalidation(client):
    doc, plain = fetch(client)
    zipped = client.get("/map/markers.json", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert orjson.loads(gzip.decompress(zipped.data)) == doc
    assert len(zipped.data) < len(plain.data)
    again = client.get("/map/markers.json", headers={"If-None-Match": plain.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_compact(client):
    doc, response = fetch(client)
    markers = orjson.dumps(doc["markers"])
    assert markers in response.data  # no spaces, nothing but the arrays
    texts = sum(len(orjson.dumps(m[0])) + len(orjson.dumps(m[4])) for m in doc["markers"])
    # Per entry, besides its slug and name: brackets, commas, a kind index and two
    # coordinates of at most 5 decimals.
    assert (len(markers) - texts) / len(doc["markers"]) <= 26
    for _, _, lon, lat, _ in doc["markers"]:
        assert round(lon, 5) == lon and round(lat, 5) == lat


def test_built_once_per_data_state_and_a_write_is_seen_at_once(app, client, session):
    from sqlalchemy import update

    from app.models import Entry
    from app.web.markers import kept_bodies as _kept

    doc, first = fetch(client, "?kind=third_place")
    kept = _kept(app).get(first.headers["ETag"].removeprefix('W/"').rstrip('"'))
    # Marked, the kept document shows that the next answer is served from it.
    kept.plain = orjson.dumps({**doc, "marked": True})
    again, second = fetch(client, "?kind=third_place")
    assert again.get("marked") is True and second.headers["ETag"] == first.headers["ETag"]
    # Revalidation answers from the data state, without building anything.
    assert client.get("/map/markers.json?kind=third_place",
                      headers={"If-None-Match": first.headers["ETag"]}).status_code == 304

    slug = doc["markers"][0][0]
    session.execute(update(Entry).where(Entry.slug == slug).values(name="Renommée"))
    session.commit()
    fresh, third = fetch(client, "?kind=third_place")
    assert "marked" not in fresh and third.headers["ETag"] != first.headers["ETag"]
    assert [m[4] for m in fresh["markers"] if m[0] == slug] == ["Renommée"]
