"""ATLAS_DATA_LICENCE reaches every document that names a licence (app/licences.py).

A base whose entries come from no ODbL source, under etalab-2.0: no page, API document,
OGC document or export may say ODbL. One OpenStreetMap entry then makes the exports
that hold it ODbL (share-alike), and only those.
"""

from __future__ import annotations

import pytest

from app import create_app
from app.config import to_sqlalchemy_url
from app.extensions import db
from app.licences import identify
from app.services.entries import SourceRef, save_entry
from app.services.revisions import Author

OURS = {"kind": "third_place", "name": "Tiers-lieu Étalab", "slug": "tiers-lieu-etalab",
        "city": "Lille", "lon": 3.06, "lat": 50.63, "tags": []}
FROM_OSM = {"kind": "third_place", "name": "Café OSM", "slug": "cafe-osm", "city": "Lille",
            "lon": 3.07, "lat": 50.64, "tags": []}

DOCUMENTS = (
    "/", "/entries", "/entries/tiers-lieu-etalab", "/api/openapi.json", "/api/v1/entries",
    "/api/v1/entries.geojson", "/api/v1/exports", "/ogc", "/ogc/collections",
    "/ogc/collections/entries", "/ogc/collections/entries/items?f=json",
    "/ogc/collections/entries?f=html",
)


@pytest.fixture(scope="module")
def etalab_app(databases):
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret", "DATA_LICENCE": "etalab-2.0",
                      "SQLALCHEMY_DATABASE_URI": to_sqlalchemy_url(databases.migrated("licence"))})
    with app.app_context():
        save_entry(None, OURS, author=Author(label="test"), expected_version=None)
        db.session.commit()
    return app


def export_urls(client) -> list[str]:
    return [item["url"] for item in client.get("/api/v1/exports").get_json()["items"]]


def test_no_document_says_odbl_when_no_entry_comes_from_an_odbl_source(etalab_app):
    client = etalab_app.test_client()
    bodies = {}
    for url in (*DOCUMENTS, *export_urls(client)):
        answer = client.get(url)
        assert answer.status_code == 200, url
        bodies[url] = (answer.get_data(as_text=False).decode("utf-8", "replace")
                       + str(answer.headers)).lower()
    said = [url for url, body in bodies.items() if "odbl" in body or "open database" in body]
    assert not said, f"ODbL named by {said}"
    assert "etalab" in bodies["/api/openapi.json"]
    assert "etalab" in bodies["/ogc/collections/entries"]
    assert "licence ouverte" in bodies["/entries"]  # the footer


def test_an_osm_entry_makes_only_its_exports_odbl(etalab_app):
    with etalab_app.app_context():
        save_entry(None, FROM_OSM, author=Author(label="import osm"), expected_version=None,
                   source=SourceRef("osm", "node/1", {}, licence="ODbL-1.0"))
        db.session.commit()
    client = etalab_app.test_client()
    csv = client.get("/api/v1/exports/entries.csv").get_data(as_text=True)
    lines = {line.split(",")[0]: line for line in csv.splitlines()[1:]}
    row_osm = next(line for line in csv.splitlines() if "cafe-osm" in line)
    row_ours = next(line for line in csv.splitlines() if "tiers-lieu-etalab" in line)
    assert row_osm.endswith("ODbL-1.0") and row_ours.endswith("etalab-2.0"), lines
    # The API document speaks of the instance's licence, whatever one entry's source.
    assert "odbl" not in client.get("/api/openapi.json").get_data(as_text=True).lower()


@pytest.mark.parametrize(("name", "expected"), [
    ("ODbL 1.0 (data)", "ODbL-1.0"), ("Open Database License", "ODbL-1.0"),
    ("etalab-2.0 (data)", "etalab-2.0"), ("Licence Ouverte / Open Licence 2.0", "etalab-2.0"),
    ("CC0-1.0", "CC0-1.0"), ("Some local licence", "Some local licence"), (None, None),
])
def test_a_peer_licence_is_read_by_id_or_title(name, expected):
    assert identify(name) == expected
