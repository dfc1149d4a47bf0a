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
