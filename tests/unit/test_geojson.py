"""The GeoJSON feed: RFC 7946 as a validator from PyPI reads it, the same data and filters."""

from __future__ import annotations

import gzip
import json
import urllib.request

import geojson_validator

from tests import demo_data


def feed(client, query: str = "") -> dict:
    response = client.get(f"/api/v1/entries.geojson{query}")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    assert response.is_streamed
    return json.loads(response.get_data())


def test_the_feed_is_valid_geojson_with_every_entry(client):
    collection = feed(client)
    assert geojson_validator.validate_structure(collection, check_crs=True) == {}
    checked = geojson_validator.validate_geometries(collection)
    assert checked["invalid"] == {} and checked["problematic"] == {}
    assert "crs" not in collection
    by_slug = {f["properties"]["slug"]: f for f in collection["features"]}
    assert set(by_slug) == {e["slug"] for e in demo_data.entries()}
    for source in demo_data.entries():
        feature = by_slug[source["slug"]]
        if "lon" in source:  # RFC 7946: longitude first
            assert feature["geometry"] == {"type": "Point",
                                           "coordinates": [source["lon"], source["lat"]]}
        else:
            assert feature["geometry"] is None
        assert feature["properties"]["name"] == source["name"]
        assert "id" not in feature["properties"]
    ids = [f["id"] for f in collection["features"]]
    assert len(set(ids)) == len(ids)


def test_the_feed_takes_the_same_filters_as_the_list(client):
    for query in ("?kind=third_place", "?bbox=3.03,50.62,3.08,50.64", "?q=epicerie",
                  "?tag=repair&tag=grocery", "?located=true"):
        features = feed(client, query)["features"]
        listed = client.get(f"/api/v1/entries{query}&limit=1000".replace("?", "?", 1)
                            ).get_json()["items"]
        assert {f["id"] for f in features} == {i["id"] for i in listed}, query
        assert features, query


def test_the_feed_refuses_bad_filters(client):
    response = client.get("/api/v1/entries.geojson?bbox=1,2,3")
    assert response.status_code == 400
    assert response.get_json()["invalid-params"][0]["name"] == "bbox"


def test_streamed_feed_is_compressed_over_http(live_server):
    request = urllib.request.Request(f"{live_server.url}/api/v1/entries.geojson",
                                     headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.headers.get("Transfer-Encoding") == "chunked"
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers["ETag"].startswith('W/"')
        body = gzip.decompress(response.read())
    assert len(json.loads(body)["features"]) == len(demo_data.entries())
    # Validators: a second request with the ETag is a 304, with no body.
    again = urllib.request.Request(f"{live_server.url}/api/v1/entries.geojson",
                                   headers={"If-None-Match": response.headers["ETag"]})
    try:
        urllib.request.urlopen(again, timeout=30)
        raise AssertionError("expected 304")
    except urllib.error.HTTPError as exc:
        assert exc.code == 304
