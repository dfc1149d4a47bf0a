"""The GoGoCarto elements API served live, read as GoGoCarto reads it: over HTTP, with the
parameters GoGoCartoJs's ajax module sends (`bounds` as Leaflet boxes joined by `;`,
`categories[]`, `ontology`), the compact elements read through the answer's `mapping`
as GoGoCartoJs's element-json-loader does, and the full ones with GoGoCarto's
documented fields. Expected answers come from the demo file, not from SQL.
"""

from __future__ import annotations

import requests

from tests import demo_data

LILLE_CENTRE = (3.055, 50.630, 3.070, 50.640)  # minLon, minLat, maxLon, maxLat


def _get(live_server, **params) -> requests.Response:
    return requests.get(f"{live_server.url}/api/v1/gogocarto/elements", params=params,
                        timeout=30)


def _in(box, spec) -> bool:
    return box[0] <= spec["lon"] <= box[2] and box[1] <= spec["lat"] <= box[3]


def read_compact(answer: dict) -> dict[str, dict]:
    """GoGoCartoJs's loadFromCompactJson: id, the mapped attributes, position, options."""
    mapping = answer["mapping"]
    elements = {}
    for item in answer["data"]:
        attributes = dict(zip(mapping[1], item[1], strict=True))
        elements[attributes["name"]] = {"id": item[0], "latitude": item[2],
                                        "longitude": item[3], "options": item[4]}
    return elements


def test_full_ontology_has_gogocarto_fields_for_every_located_published_entry(live_server):
    answer = _get(live_server)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.headers["Access-Control-Allow-Origin"] == "*"  # a map on another site
    body = answer.json()
    assert body["ontology"] == "gogofull" and body["allElementsSends"] is True
    located = {e["name"]: e for e in demo_data.located()}
    elements = {e["name"]: e for e in body["data"]}
    assert set(located) <= set(elements)
    spec = located["La Coroutine"]
    coroutine = elements["La Coroutine"]
    assert (coroutine["geo"]["latitude"], coroutine["geo"]["longitude"]) == (spec["lat"],
                                                                             spec["lon"])
    assert coroutine["description"] == spec["summary"]
    assert coroutine["url"] == f"{live_server.url}/entries/la-coroutine"
    ids = {c["id"] for c in coroutine["categoriesFull"]}
    assert ids == {"kind:third_place", *(f"tag:{t}" for t in spec["tags"])}
    assert "Tiers-lieu" in coroutine["categories"]
    # One element by id, as GoGoCarto's /api/elements/{id} answers it.
    one = requests.get(f"{live_server.url}/api/v1/gogocarto/elements/{coroutine['id']}",
                       timeout=30).json()
    assert one["data"] == [coroutine]


def test_bounds_keep_the_elements_in_any_of_the_boxes_and_compact_follows_its_mapping(
        live_server):
    far = (2.80, 50.60, 2.95, 50.70)  # west of Lille: a second box, as GoGoCartoJs sends
    bounds = ";".join(",".join(map(str, box)) for box in (LILLE_CENTRE, far)) + ";"
    answer = _get(live_server, bounds=bounds, ontology="GoGoCompact").json()
    assert answer["ontology"] == "gogocompact" and answer["allElementsSends"] is False
    elements = read_compact(answer)
    expected = {e["name"] for e in demo_data.located()
                if _in(LILLE_CENTRE, e) or _in(far, e)}
    assert expected and set(elements) == expected
    assert len(expected) < len(demo_data.located())  # the boxes left some out
    mutualab = next(e for e in demo_data.located() if e["slug"] == "mutualab")
    assert elements["Mutualab"]["latitude"] == mutualab["lat"]
    assert elements["Mutualab"]["longitude"] == mutualab["lon"]
    assert set(elements["Mutualab"]["options"]) == {
        "kind:third_place", *(f"tag:{t}" for t in mutualab["tags"])}


def test_categories_taxonomy_limit_and_the_query_layers_filters(live_server):
    taxonomy = requests.get(f"{live_server.url}/api/v1/gogocarto/taxonomy", timeout=30).json()
    options = {o["id"] for group in taxonomy for o in group["options"]}
    assert {"kind:commons", "kind:third_place", "tag:coworking"} <= options
    # categories[] as jQuery sends an array: any of them.
    both = _get(live_server, **{"categories[]": ["kind:commons", "tag:coworking"]}).json()
    expected = {e["name"] for e in demo_data.located()
                if e["kind"] == "commons" or "coworking" in e.get("tags", [])}
    assert {e["name"] for e in both["data"]} == expected
    assert len(_get(live_server, limit=3).json()["data"]) == 3
    # The query layer's own filters, as on every output.
    tagged = _get(live_server, tag="makerspace", kind="third_place").json()["data"]
    assert {e["name"] for e in tagged} == {
        e["name"] for e in demo_data.located()
        if e["kind"] == "third_place" and "makerspace" in e.get("tags", [])}


def test_bad_parameters_are_refused_by_name(live_server):
    for params, name in (({"ontology": "gogojson"}, "ontology"),
                         ({"bounds": "3,50,3.1"}, "bounds"),
                         ({"bounds": "3,51,3.1,50"}, "bounds"),
                         ({"categories": "tag:nope-nope"}, "categories"),
                         ({"categories": "Tiers-lieu"}, "categories"),
                         ({"limit": "0"}, "limit"),
                         ({"kind": "castle"}, "kind")):
        answer = _get(live_server, **params)
        assert answer.status_code == 400, params
        assert answer.json()["invalid-params"][0]["name"] == name
    missing = requests.get(f"{live_server.url}/api/v1/gogocarto/elements/"
                           "00000000-0000-0000-0000-000000000000", timeout=30)
    assert missing.status_code == 404
