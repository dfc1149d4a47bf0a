"""schema.org JSON-LD from public records: the type follows the kind and the position."""

from app.formats.jsonld import entry_jsonld, licence_url, schema_type

BASE = {"id": "0b7a2d4e-0000-4000-8000-000000000001", "slug": "x", "name": "X",
        "summary": None, "description": None, "status": "active", "street": None,
        "postcode": None, "city": None, "country": None, "website": None, "email": None,
        "phone": None, "opening_hours": None, "licence": None, "founded": None,
        "lon": None, "lat": None, "tags": [], "created_at": None, "updated_at": None,
        "version": 1}


def record(**values):
    return {**BASE, **values}


def walk(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)
    yield value


def test_types():
    assert schema_type(record(kind="third_place", lon=3.0, lat=50.6)) == "Place"
    assert schema_type(record(kind="initiative")) == "Organization"
    assert schema_type(record(kind="commons", tags=["software"])) == "SoftwareApplication"
    assert schema_type(record(kind="commons", tags=["knowledge"])) == "CreativeWork"
    # A commons with a place of its own (a shared garden) is a place.
    assert schema_type(record(kind="commons", lon=3.0, lat=50.6)) == "Place"


def test_an_initiative_with_a_place_and_contacts():
    doc = entry_jsonld(record(kind="initiative", lon=3.07, lat=50.63, city="Lille",
                              postcode="59000", email="a@example.org", founded=2012,
                              website="https://example.org", tags=["food", "amap"]),
                       url="https://atlas.example/entries/x")
    assert doc["@type"] == "Organization" and doc["@id"] == "https://atlas.example/entries/x"
    assert doc["location"]["geo"] == {"@type": "GeoCoordinates", "latitude": 50.63,
                                      "longitude": 3.07}
    assert doc["address"] == {"@type": "PostalAddress", "postalCode": "59000",
                              "addressLocality": "Lille"}
    assert doc["email"] == "a@example.org" and doc["foundingDate"] == "2012"
    assert doc["url"] == "https://example.org" and doc["keywords"] == "food, amap"
    assert "sameAs" not in doc  # the website is the entry's own url, not another copy of it
    assert None not in list(walk(doc))


def test_a_digital_commons_and_its_licence():
    doc = entry_jsonld(record(kind="commons", licence="AGPL-3.0-only", tags=["software"],
                              updated_at="2024-01-02T03:04:05+00:00", email="x@example.org"),
                       url="https://atlas.example/entries/x")
    assert doc["@type"] == "SoftwareApplication"
    assert doc["license"] == "https://spdx.org/licenses/AGPL-3.0-only.html"
    assert doc["dateModified"] == "2024-01-02T03:04:05+00:00"
    assert "email" not in doc and "geo" not in doc  # not properties of a CreativeWork
    assert licence_url("Licence maison, voir le site") is None
