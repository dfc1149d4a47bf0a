"""The Atom feed of recent changes, read by a real feed parser (feedparser): entries with
their titles, links to their pages, updated dates, stable ids and categories; the
same filters as every output; text escaped, not interpreted."""

from __future__ import annotations

import feedparser

from app.services.entries import get_entry, update_entry
from app.services.revisions import Author
from tests import demo_data

EDITOR = Author(label="atom test")


def _feed(client, query: str = ""):
    answer = client.get(f"/feed.atom{query}")
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    assert answer.mimetype == "application/atom+xml"
    feed = feedparser.parse(answer.data)
    assert not feed.bozo, feed.bozo_exception  # well-formed XML, valid as Atom goes
    assert feed.version == "atom10"
    return feed


def test_the_feed_lists_the_last_changed_entries_first_with_links_and_dates(client):
    entry = get_entry("la-coroutine")
    update_entry(entry, {"name": "La Coroutine <b>&</b> \"amis\"",
                         "summary": "Résumé avec <script>alert(1)</script>"},
                 expected_version=entry.version, author=EDITOR)
    feed = _feed(client)
    assert feed.feed.language == "fr"
    assert feed.feed.title.endswith(" : changements récents")
    assert feed.feed.links[0].rel == "self"
    assert feed.feed.updated_parsed is not None and feed.feed.author
    first = feed.entries[0]
    # Escaped, then read back as the very text: no markup came through.
    assert first.title == "La Coroutine <b>&</b> \"amis\""
    assert first.title_detail.type == "text/plain"
    assert first.summary == "Résumé avec <script>alert(1)</script>"
    assert first.id == f"urn:uuid:{entry.id}"
    assert first.link == "http://localhost/entries/la-coroutine"
    assert first.updated_parsed is not None and first.published_parsed is not None
    assert {t.term for t in first.tags} >= {"third_place", "coworking"}
    assert first.where["coordinates"] == (entry.lonlat[0], entry.lonlat[1])
    updated = [e.updated_parsed for e in feed.entries]
    assert updated == sorted(updated, reverse=True)
    assert len(feed.entries) == min(50, len([e for e in demo_data.entries()]))
    assert len({e.id for e in feed.entries}) == len(feed.entries)


def test_the_feed_takes_the_filters_of_every_output(client):
    tagged = _feed(client, "?tag=makerspace&kind=third_place")
    expected = {e["name"] for e in demo_data.entries()
                if e["kind"] == "third_place" and "makerspace" in e.get("tags", [])}
    assert expected and {e.title for e in tagged.entries} == expected
    assert "tag=makerspace" in tagged.feed.id  # one id per filtered feed
    box = (3.055, 50.630, 3.070, 50.640)
    boxed = _feed(client, "?bbox=" + ",".join(map(str, box)))
    inside = {e["name"] for e in demo_data.located()
              if box[0] <= e["lon"] <= box[2] and box[1] <= e["lat"] <= box[3]}
    assert inside and {e.title for e in boxed.entries} == inside


def test_pages_point_feed_readers_to_the_feed(client):
    html = client.get("/entries").get_data(as_text=True)
    assert '<link rel="alternate" type="application/atom+xml"' in html
    assert 'href="/feed.atom"' in html


def test_a_bad_filter_is_a_400_naming_it(client):
    answer = client.get("/feed.atom?kind=castle")
    assert answer.status_code == 400
    assert "kind" in answer.get_data(as_text=True)
