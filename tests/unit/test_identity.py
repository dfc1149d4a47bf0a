"""The instance's identity comes from configuration (app/identity.py), never from the code.

An atlas of Rennes (ATLAS_SITE_NAME, ATLAS_TERRITORY_BBOX, ATLAS_PUBLISHER_NAME…) on an
empty database, with one Rennes entry: no page, API document, OGC document, export or
mail says "Atlas des communs" or "Lille"; the map and the OGC extent are Rennes'; the
legal notice and the privacy page name its publisher and contact, in both languages.
"""

from __future__ import annotations

import json
import re

import pytest

from app import create_app
from app.config import PROJECT_ROOT, ConfigurationError, to_sqlalchemy_url
from app.extensions import db
from app.identity import Bbox, parse_bbox, settings
from app.services.entries import save_entry
from app.services.revisions import Author

RENNES = {
    "ATLAS_SITE_NAME": "Atlas de Rennes",
    "ATLAS_SITE_TAGLINE": "Les communs du bassin rennais",
    "ATLAS_TERRITORY_NAME": "Rennes Métropole",
    "ATLAS_TERRITORY_BBOX": "-1.80,48.03,-1.55,48.17",
    "ATLAS_PUBLISHER_NAME": "Collectif des communs rennais",
    "ATLAS_PUBLISHER_URL": "https://communs-rennes.example.org",
    "ATLAS_CONTACT_EMAIL": "contact@communs-rennes.example.org",
}
ENTRY = {"kind": "third_place", "name": "La Cantine numérique", "slug": "cantine-numerique",
         "city": "Rennes", "lon": -1.68, "lat": 48.11, "tags": []}
PAGES = (
    "/", "/embed", "/entries", "/entries/cantine-numerique", "/legal", "/privacy", "/login",
    "/suggest", "/nowhere",
)
DOCUMENTS = (
    "/api/openapi.json", "/api/v1/entries", "/api/v1/entries.geojson", "/api/v1/exports",
    "/ogc", "/ogc?f=html", "/ogc/api", "/ogc/api?f=html", "/ogc/collections",
    "/ogc/collections/entries", "/ogc/collections/entries?f=html",
    "/ogc/collections/entries/items?f=json", "/ogc/collections/entries/items?f=html",
)
FORBIDDEN = re.compile(r"atlas des communs|atlas-des-communs|lille|lilloise", re.IGNORECASE)


@pytest.fixture(scope="module")
def rennes(databases):
    with pytest.MonkeyPatch.context() as patch:
        for name, value in RENNES.items():
            patch.setenv(name, value)
        for name in ("ATLAS_MAP_LAT", "ATLAS_MAP_LON", "ATLAS_MAP_ZOOM", "ATLAS_MAIL_FROM"):
            patch.delenv(name, raising=False)
        app = create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                          "SQLALCHEMY_DATABASE_URI": to_sqlalchemy_url(
                              databases.migrated("identity"))})
    with app.app_context():
        save_entry(None, ENTRY, author=Author(label="test"), expected_version=None)
        db.session.commit()
    return app


def export_urls(client) -> list[str]:
    return [item["url"] for item in client.get("/api/v1/exports").get_json()["items"]]


def body(answer) -> str:
    return answer.get_data(as_text=False).decode("utf-8", "replace") + str(answer.headers)


def test_no_page_document_export_or_mail_names_lille_or_the_default_site(rennes):
    client = rennes.test_client()
    bodies = {}
    for url in PAGES:
        for lang in ("fr", "en"):
            answer = client.get(f"{url}?lang={lang}")
            assert answer.status_code == (404 if url == "/nowhere" else 200), url
            bodies[f"{url} {lang}"] = body(answer)
    for url in (*DOCUMENTS, *export_urls(client)):
        answer = client.get(url)
        assert answer.status_code == 200, url
        bodies[url] = body(answer)
    with rennes.test_request_context("/"):
        from app.mail.messages import _render
        from app.models import User

        user = User(email="someone@example.org")
        for lang in ("fr", "en"):
            bodies[f"reset mail {lang}"] = "\n".join(_render(
                lang, "reset", user=user, link="https://x.example/r", minutes=60))
            bodies[f"invitation mail {lang}"] = "\n".join(_render(
                lang, "invitation", email="new@example.org", role="editor", inviter=user,
                link="https://x.example/i", days=7))
    bodies["mail sender"] = rennes.config["MAIL_FROM"]
    named = {where: FORBIDDEN.search(text).group(0) for where, text in bodies.items()
             if FORBIDDEN.search(text)}
    assert not named, f"the default identity is named by {named}"
    assert "Atlas de Rennes" in bodies["/ fr"] and "Atlas de Rennes" in bodies["reset mail fr"]
    assert "Atlas de Rennes" in bodies["mail sender"]


def test_documents_and_exports_name_the_site_and_its_publisher(rennes):
    client = rennes.test_client()
    assert client.get("/api/openapi.json").get_json()["info"]["title"] == "Atlas de Rennes"
    assert client.get("/api/openapi.json").get_json()["info"]["contact"] == {
        "name": "Collectif des communs rennais", "url": "https://communs-rennes.example.org",
        "email": "contact@communs-rennes.example.org"}
    assert client.get("/ogc").get_json()["title"] == "Atlas de Rennes"
    assert client.get("/ogc/api?f=json").get_json()["info"]["title"].startswith(
        "Atlas de Rennes")
    package = json.loads(_zip_member(client.get("/api/v1/exports/datapackage.zip").data,
                                     "datapackage.json"))
    assert package["name"] == "atlas-de-rennes" and package["title"] == "Atlas de Rennes"
    assert package["contributors"][0]["title"] == "Collectif des communs rennais"
    graph = client.get("/api/v1/exports/entries.jsonld").get_json()["@graph"]
    assert graph[0]["name"] == "Atlas de Rennes"
    assert graph[0]["publisher"]["name"] == "Collectif des communs rennais"
    geojson = client.get("/api/v1/exports/entries.geojson").get_json()
    assert "Collectif des communs rennais" in json.dumps(geojson, ensure_ascii=False)


def _zip_member(data: bytes, name: str) -> str:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(name).decode()


def map_config(html: str) -> dict:
    import html as html_lib

    match = re.search(r'id="map" class="map" data-config="([^"]*)"', html)
    assert match, "no map configuration on the page"
    return json.loads(html_lib.unescape(match.group(1)))


def test_the_map_view_and_the_ogc_extent_follow_the_territory(rennes, databases):
    client = rennes.test_client()
    config = map_config(client.get("/").get_data(as_text=True))
    lat, lon = config["center"]
    assert (lat, lon) == pytest.approx((48.10, -1.675)), config["center"]
    assert 10 <= config["zoom"] <= 12  # the whole box, 0.25° wide, fits the map
    # An empty collection's extent is the territory, where its entries will be.
    extent = client.get("/ogc/collections/commons").get_json()["extent"]["spatial"]["bbox"]
    assert extent == [[-1.80, 48.03, -1.55, 48.17]]
    entries = client.get("/ogc/collections/entries").get_json()["extent"]["spatial"]["bbox"]
    assert entries == [[-1.68, 48.11, -1.68, 48.11]]  # the data's own, once there are some


def test_the_importers_default_area_is_the_territory(rennes, monkeypatch):
    from importers.mapping import DEFAULT_OSM_MAPPING, load_osm_mapping
    from importers.osm_overpass import build_query, default_area

    with rennes.app_context():
        area = default_area()
        mapping = load_osm_mapping(DEFAULT_OSM_MAPPING)
    assert str(area) == "-1.8,48.03,-1.55,48.17"
    assert str(mapping.territory) == str(area)
    assert "(48.03,-1.8,48.17,-1.55)" in build_query(mapping, area)
    # Outside an app (a script), the environment says the same.
    monkeypatch.setenv("ATLAS_TERRITORY_BBOX", RENNES["ATLAS_TERRITORY_BBOX"])
    assert str(default_area()) == "-1.8,48.03,-1.55,48.17"


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("page", ["/legal", "/privacy"])
def test_legal_and_privacy_pages_name_the_publisher_and_contact(rennes, page, lang):
    client = rennes.test_client()
    answer = client.get(f"{page}?lang={lang}")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert f'<html lang="{lang}">' in html
    assert "Collectif des communs rennais" in html
    assert 'href="mailto:contact@communs-rennes.example.org"' in html
    # Every page links to both from its footer.
    home = client.get(f"/entries?lang={lang}").get_data(as_text=True)
    assert 'href="/legal"' in home and 'href="/privacy"' in home


@pytest.mark.parametrize(("lang", "kept"), [
    ("fr", ("adresse e-mail", "argon2", "SHA-256", "session", "jeton", "historique",
            "import", "14 jours", "désactive")),
    ("en", ("email address", "argon2", "SHA-256", "session", "API tokens", "history",
            "import runs", "14 days", "deactivates")),
])
def test_the_privacy_page_lists_what_is_kept_about_accounts(rennes, lang, kept):
    html = rennes.test_client().get(f"/privacy?lang={lang}").get_data(as_text=True)
    missing = [word for word in kept if word.lower() not in html.lower()]
    assert not missing, missing


def test_an_operator_text_replaces_a_page_sanitised(rennes, tmp_path):
    notice = tmp_path / "legal.md"
    notice.write_text("## Hébergeur\n\nOVH, 2 rue Kellermann, Roubaix.\n\n"
                      "<script>alert(1)</script> [x](javascript:alert(1))\n")
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                      "SQLALCHEMY_DATABASE_URI": rennes.config["SQLALCHEMY_DATABASE_URI"],
                      "LEGAL_NOTICE_FILE": str(notice)})
    html = app.test_client().get("/legal").get_data(as_text=True)
    assert "OVH, 2 rue Kellermann" in html and "<h4>Hébergeur</h4>" in html
    assert "<script>alert" not in html and "href=\"javascript" not in html


@pytest.mark.parametrize(("variable", "value", "said"), [
    ("ATLAS_TERRITORY_BBOX", "-1.8,48.0,-1.5", "four numbers"),
    ("ATLAS_TERRITORY_BBOX", "48.17,-1.55,48.03,-1.80", "min < max"),
    ("ATLAS_TERRITORY_BBOX", "-1.5,48.0,-1.8,48.2", "min < max"),
    ("ATLAS_TERRITORY_BBOX", "a,b,c,d", "four numbers"),
    ("ATLAS_PUBLISHER_URL", "communs-rennes.example.org", "http(s) address"),
    ("ATLAS_CONTACT_EMAIL", "contact at example.org", "email address"),
    ("ATLAS_LEGAL_NOTICE_FILE", "/nowhere/legal.md", "not a readable file"),
    ("ATLAS_PRIVACY_FILE", "/nowhere/privacy.md", "not a readable file"),
    ("ATLAS_MAP_LAT", "48.1", "ATLAS_MAP_LON"),
    ("ATLAS_MAP_ZOOM", "zoomed", "a number"),
])
def test_a_bad_value_is_refused_naming_its_variable(variable, value, said):
    with pytest.raises(ConfigurationError) as caught:
        settings({variable: value})
    assert variable in str(caught.value) and said in str(caught.value)


def test_a_bad_value_stops_the_app_at_start(monkeypatch):
    monkeypatch.setenv("ATLAS_TERRITORY_BBOX", "48.17,-1.55,48.03,-1.80")
    with pytest.raises(ConfigurationError, match="ATLAS_TERRITORY_BBOX"):
        create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": "postgresql://x/y"})


def test_unset_everything_is_lille_as_before():
    values = settings({})
    assert values["SITE_NAME"] == "Atlas des communs"
    assert values["PUBLISHER"] == "Atlas des communs"
    assert values["MAP_CENTER"] == (50.6329, 3.0586) and values["MAP_ZOOM"] == 12
    assert values["TERRITORY_BBOX"] == [2.78, 50.49, 3.30, 50.82]
    # An explicit centre wins over the territory's middle.
    values = settings({"ATLAS_TERRITORY_BBOX": RENNES["ATLAS_TERRITORY_BBOX"],
                       "ATLAS_MAP_LAT": "48.2", "ATLAS_MAP_LON": "-1.7", "ATLAS_MAP_ZOOM": "9"})
    assert values["MAP_CENTER"] == (48.2, -1.7) and values["MAP_ZOOM"] == 9


def test_the_fitting_zoom_shows_the_whole_box():
    assert parse_bbox("2.78,50.49,3.30,50.82", "X").fitting_zoom() == 10
    assert Bbox(-5.3, 41.3, 9.7, 51.2).fitting_zoom() == 5  # metropolitan France


def test_no_template_names_a_site_or_a_territory():
    said = {}
    for path in (PROJECT_ROOT / "templates").rglob("*"):
        if path.is_file():
            found = FORBIDDEN.findall(path.read_text(encoding="utf-8"))
            if found:
                said[str(path.relative_to(PROJECT_ROOT))] = found
    assert not said, said



def test_the_communes_come_from_the_configured_places_file(tmp_path, databases):
    from importers.geo import commune_at

    places = tmp_path / "places.csv"
    places.write_text("name,lat,lon,population,department\nRennes,48.11198,-1.67429,220488,"
                      "Ille-et-Vilaine\nCesson-Sévigné,48.12146,-1.60300,17000,"
                      "Ille-et-Vilaine\n", encoding="utf-8")
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                      "SQLALCHEMY_DATABASE_URI": to_sqlalchemy_url(databases.migrated("places")),
                      "PLACES_FILE": str(places)})
    with app.app_context():
        assert commune_at(-1.68, 48.11) == "Rennes"
        assert commune_at(-1.605, 48.12) == "Cesson-Sévigné"
        assert commune_at(3.06, 50.63) is None  # Lille is not in this file
    assert commune_at(3.06, 50.63) == "Lille"  # outside the app: the default file


def test_a_commune_far_north_is_found_up_to_the_distance(tmp_path, databases):
    """At 60° N a degree of longitude is half as wide as at the equator: the lookup's cells
    widen so that every place within 4 km of a point is still a candidate."""
    from importers.geo import commune_at, commune_at_slowly

    places = tmp_path / "north.csv"
    places.write_text("name,lat,lon\nSkogby,60.0,10.07\nLangt,60.0,10.5\n", encoding="utf-8")
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                      "SQLALCHEMY_DATABASE_URI": to_sqlalchemy_url(databases.migrated("north")),
                      "PLACES_FILE": str(places)})
    with app.app_context():
        for lon in (10.0, 10.0035, 10.003, 10.1, 10.13, 10.44, 10.5699):
            assert commune_at(lon, 60.0) == commune_at_slowly(lon, 60.0), lon
        assert commune_at(10.0035, 60.0) == "Skogby"  # 3.7 km west of it


def test_a_bad_places_file_is_refused_naming_its_line(tmp_path, databases):
    from importers.geo import commune_at

    places = tmp_path / "bad.csv"
    places.write_text("name,lat,lon\nRennes,48.11,-1.67\nNowhere,north,-1.6\n", encoding="utf-8")
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                      "SQLALCHEMY_DATABASE_URI": to_sqlalchemy_url(databases.migrated("bad")),
                      "PLACES_FILE": str(places)})
    with app.app_context(), pytest.raises(ValueError, match=r"ATLAS_PLACES_FILE .*line 3"):
        commune_at(-1.67, 48.11)
