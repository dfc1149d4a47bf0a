"""The response cache of the read API: same data and URL, same answer; a write or another
host, a new one; HTML and streams never kept; a bounded size."""

from __future__ import annotations

from flask import Response
from sqlalchemy import select

from app.http.cache import ResponseCache, response_cache
from app.models import Entry
from app.services.entries import save_entry
from app.services.revisions import Author
from tests.demo_data import entries as demo_entries

ITEMS = "/ogc/collections/entries/items?limit=5"


def test_the_same_url_on_the_same_data_is_answered_from_the_cache(app, client, session):
    first = client.get(ITEMS)
    cache = response_cache()
    key = next(k for k in cache.items if k[1].endswith(ITEMS))
    status, headers, body = cache.items[key]
    # Mark the kept body: the second answer must be that one, not a new one.
    marked = body.replace(b'"numberReturned":5', b'"numberReturned": 5')
    assert marked != body
    cache.items[key] = (status, headers, marked)
    try:
        second = client.get(ITEMS)
    finally:
        cache.items[key] = (status, headers, body)
    assert second.data == marked and second.get_json() == first.get_json()
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["Content-Type"] == "application/geo+json"
    assert second.headers["Access-Control-Allow-Origin"] == "*"


def test_a_write_is_seen_at_once(client, session):
    before = client.get(ITEMS).get_json()
    entry_id = before["features"][0]["id"]
    entry = session.scalar(select(Entry).where(Entry.id == entry_id))
    save_entry(entry, {"name": "Nom changé pour le cache"}, author=Author(label="test"),
               expected_version=entry.version)
    after = client.get(ITEMS).get_json()
    assert after["features"][0]["properties"]["name"] == "Nom changé pour le cache"


def test_links_follow_the_host_asked_for(client, session):
    one = client.get(ITEMS, base_url="http://one.example").get_json()
    two = client.get(ITEMS, base_url="http://two.example").get_json()
    assert all(link["href"].startswith("http://one.example/") for link in one["links"])
    assert all(link["href"].startswith("http://two.example/") for link in two["links"])


def test_html_and_streams_are_never_kept(client, session):
    cache = response_cache()
    kept = set(cache.items)
    html = client.get(ITEMS.replace("?", "?f=html&"))
    assert html.mimetype == "text/html"
    feed = client.get("/api/v1/entries.geojson")
    assert feed.is_streamed and len(feed.get_json()["features"]) == len(
        [e for e in demo_entries()])
    assert set(cache.items) == kept


def test_the_cache_keeps_within_its_size_least_recently_used_out(app):
    with app.test_request_context():
        cache = ResponseCache(max_bytes=4_000)
        for i in range(5):
            cache.put((str(i), "u"), Response(b'{"n":' + b"0" * 900 + b"}",
                                               mimetype="application/json"))
        assert cache.used <= 4_000
        assert cache.get(("0", "u")) is None and cache.get(("4", "u")) is not None
        cache.put(("big", "u"), Response(b"[" + b"0," * 1_000 + b"0]",
                                         mimetype="application/json"))
        assert cache.get(("big", "u")) is None  # more than a quarter of the budget
        off = ResponseCache(max_bytes=0)
        off.put(("x", "u"), Response(b"{}", mimetype="application/json"))
        assert off.get(("x", "u")) is None
