"""The directory around a place: nearest first, the distance shown, kept through filters."""

from __future__ import annotations

import re
from html import unescape

from tests import demo_data

ORIGIN = next(e for e in demo_data.located() if e["slug"] == "mutualab")


def listed(html: str) -> list[str]:
    return [unescape(n) for n in re.findall(
        r'class="entry-card-title"><a href="[^"]+">([^<]+)</a>', html)]


def test_near_lists_the_nearest_first_with_the_distance_and_a_tag_keeps_it(client):
    near = f"{ORIGIN['lon']},{ORIGIN['lat']}"
    tag = "grocery"
    html = client.get("/entries", query_string={"near": near, "radius": "50000",
                                                "tag": tag}).get_data(as_text=True)
    expected = sorted((e for e in demo_data.located() if tag in e.get("tags", [])),
                      key=lambda e: demo_data.haversine_m(ORIGIN["lon"], ORIGIN["lat"],
                                                          e["lon"], e["lat"]))
    assert len(expected) >= 2
    assert listed(html)[:len(expected)] == [e["name"] for e in expected][:20]
    assert html.count('class="entry-distance"') == min(len(expected), 20)
    # The filter form carries the place on, so picking another filter keeps the order.
    assert f'name="near" value="{near}"' in html and 'name="radius" value="50000"' in html
    assert '<option value="distance" selected>' in html


def test_distance_without_a_place_is_a_clear_error(client):
    response = client.get("/entries", query_string={"sort": "distance"})
    assert response.status_code == 400
    assert "sort" in response.get_data(as_text=True)


def test_a_place_bound_list_stores_no_count_for_others(app, client):
    """A list around a visitor's own place (or box) is counted in its request: its count is
    nobody else's, so it is never stored as a filtered map pass (one written per visitor
    and point, never read again)."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import map_filter_passes
    from app.query import EntryFilter, Near, count_entries

    def passes():
        with app.app_context():
            return db.session.scalar(select(func.count()).select_from(map_filter_passes))

    before = passes()
    near = f"{ORIGIN['lon'] + 0.0003},{ORIGIN['lat']}"
    html = client.get("/entries", query_string={"near": near, "radius": "2000",
                                                "q": "cafe"}).get_data(as_text=True)
    with app.app_context():
        expected = count_entries(EntryFilter(
            text="cafe", near=Near(ORIGIN["lon"] + 0.0003, ORIGIN["lat"], 2000)))
    assert expected and f"{expected} fiche" in html
    assert passes() == before
    html = client.get("/entries", query_string={"bbox": "3.0,50.6,3.1,50.7",
                                                "q": "cafe"}).get_data(as_text=True)
    with app.app_context():
        expected = count_entries(EntryFilter(text="cafe", bbox=(3.0, 50.6, 3.1, 50.7)))
    assert expected and f"{expected} fiche" in html
    assert passes() == before
