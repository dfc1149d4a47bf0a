"""The territory: one notion for the map's view and the importers. An object outside it
is reported and not imported, unless the run says --anywhere."""

from __future__ import annotations

import json

import pytest

from app.config import ConfigurationError
from app.identity import settings as identity_settings
from app.territory import Territory, parse_territory
from importers.mapping import load_osm_mapping
from importers.osm_files import read_osm_file
from tests.support.importer import entries_of, items_of, run_import

LILLE_BOX = [2.78, 50.49, 3.30, 50.82]
# Invented objects (not OpenStreetMap data): a coworking in Lille and one in Paris, as
# the OSM file of the issue brought in.
OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand-written test data">
  <node id="9300000001" version="1" lat="50.6330" lon="3.0590">
    <tag k="amenity" v="coworking_space"/><tag k="name" v="Cowork du Vieux-Lille"/>
    <tag k="addr:postcode" v="59800"/><tag k="addr:city" v="Lille"/>
  </node>
  <node id="9300000002" version="1" lat="48.8590" lon="2.3790">
    <tag k="amenity" v="coworking_space"/><tag k="name" v="Cowork de la Roquette"/>
    <tag k="addr:postcode" v="75011"/><tag k="addr:city" v="Paris"/>
  </node>
</osm>
"""


def test_an_osm_object_outside_the_territory_is_reported_and_not_imported(session, tmp_path):
    path = tmp_path / "two.osm"
    path.write_text(OSM, encoding="utf-8")
    mapping = load_osm_mapping()
    result = run_import(mapping, read_osm_file(path, mapping))
    imported = entries_of("osm")
    assert imported["node/9300000001"].insee_code == "59350"
    assert "node/9300000002" not in imported
    [outside] = items_of(result.report, "skipped")
    assert outside["external_id"] == "node/9300000002"
    assert "outside the territory (commune 75056" in outside["reason"]
    assert result.counts["created"] == 1 and result.counts["skipped"] == 1

    mapping.anywhere = True  # `flask import osm --anywhere`
    again = run_import(mapping, read_osm_file(path, mapping))
    assert again.counts["created"] == 1 and not items_of(again.report, "skipped")
    assert entries_of("osm")["node/9300000002"].insee_code == "75056"


def test_departments_or_communes_decide_by_insee_code_else_by_position():
    nord = parse_territory("departments:59", LILLE_BOX)
    assert nord.holds(None, None, "59350") is True
    assert nord.holds(3.06, 50.63, "62041") is False     # Arras, whatever the position
    assert nord.holds(3.06, 50.63, None) is True          # no code: the box
    assert nord.holds(None, None, None) is None            # nothing tells
    two = parse_territory("communes:59350, 59512", LILLE_BOX)
    assert two.holds(None, None, "59512") and not two.holds(None, None, "59599")
    assert str(two).startswith("communes 59350,59512")


def test_a_polygon_territory_and_its_box_for_the_map(tmp_path):
    # A triangle over Lille, Roubaix and Villeneuve-d'Ascq.
    shape = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [
        [[3.00, 50.60], [3.20, 50.60], [3.18, 50.72], [3.00, 50.60]]]}}
    path = tmp_path / "territory.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [shape]}))
    territory = parse_territory(str(path), LILLE_BOX)
    assert territory.contains(3.13, 50.63) and not territory.contains(3.01, 50.70)
    values = identity_settings({"ATLAS_TERRITORY": str(path)})
    assert values["TERRITORY_BBOX"] == [3.0, 50.6, 3.2, 50.72]  # the map opens on it
    assert values["MAP_CENTER"] == pytest.approx((50.66, 3.1))


@pytest.mark.parametrize(("value", "message"), [
    ("departments:59,Nord", "comma-separated list of codes"),
    ("communes:", "comma-separated list of codes"),
    ("/nowhere/territory.geojson", "GeoJSON file of polygons"),
])
def test_a_bad_territory_is_refused_naming_the_variable(value, message):
    with pytest.raises(ConfigurationError, match="ATLAS_TERRITORY") as refused:
        parse_territory(value, LILLE_BOX)
    assert message in str(refused.value)


def test_the_box_alone_is_still_a_territory():
    box = Territory.parse("2.78,50.49,3.30,50.82")
    assert box.contains(3.06, 50.63) and not box.contains(2.35, 48.85)
    assert box.holds(2.35, 48.85, None) is False
