"""Geocoding through the address service, replayed by a local server of our own
(tests/support/address_service.py; every canned answer says it was written after the
service's documentation, none recorded): single and batch look-ups, the cache, imports
with --geocode (hits, a miss, a low score) and with the service down."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text, update

from app.geocoding.cache import DatabaseCache
from app.geocoding.client import AddressService
from app.models import GeocodeAnswer, Source
from tests.support.address_service import AddressReplay
from tests.support.editor import login
from tests.support.importer import HEADER, MAPPING, entries_of, write_csv

HIT_LILLE = ("1 place du Théâtre", "59800", "Lille")
HIT_ROUBAIX = ("25 Grand Place", "59100", "Roubaix")
HIT_TOURCOING = ("10 rue de la Cloche", "59200", "Tourcoing")
LOW = ("Les Ateliers zone artisanale", "59000", "Lille")
MISS = ("Impasse des Songes", "59999", "Nulle-Part")


@pytest.fixture(scope="module")
def replay():
    with AddressReplay() as server:
        yield server


@pytest.fixture(scope="module")
def down():
    with AddressReplay(down=True) as server:
        yield server


def _service(url: str, **kw) -> AddressService:
    return AddressService(url, timeout=5, retries=kw.pop("retries", 1), min_score=0.5,
                          pause=0.01, **kw)


def test_a_batch_gives_hits_a_miss_and_a_low_score_and_is_cached(session, replay):
    service = _service(replay.url, cache=DatabaseCache(), batch_rows=2)
    rows = {"a": HIT_LILLE, "b": HIT_ROUBAIX, "c": HIT_TOURCOING, "d": LOW, "e": MISS}
    outcomes = service.search_batch(rows)
    assert {k: o.status for k, o in outcomes.items()} == {
        "a": "found", "b": "found", "c": "found", "d": "low_score", "e": "not_found"}
    assert outcomes["b"].lonlat == pytest.approx((3.17462, 50.69068))
    assert outcomes["b"].answer["citycode"] == "59512"
    assert outcomes["d"].score == pytest.approx(0.312)
    assert replay.calls.count("/search/csv/") >= 3  # 5 rows, 2 a batch
    asked = len(replay.calls)
    again = service.search_batch(rows)  # every answer from the cache, misses too
    assert len(replay.calls) == asked
    assert {k: o.status for k, o in again.items()} == {k: o.status for k, o in outcomes.items()}
    assert session.scalar(select(func.count()).select_from(GeocodeAnswer)) == 5
    # An answer older than the cache's age is asked again.
    session.execute(update(GeocodeAnswer).values(
        fetched_at=func.now() - text("interval '31 days'")))
    service.search_batch({"a": HIT_LILLE})
    assert len(replay.calls) == asked + 1


def test_single_and_reverse_look_ups(session, replay):
    service = _service(replay.url, cache=DatabaseCache())
    found = service.search("1 place du Theatre, 59800 LILLE")
    assert found.status == "found" and found.answer["citycode"] == "59350"
    back = service.reverse(3.1327, 50.6224)
    assert back.status == "found" and back.answer["citycode"] == "59009"
    assert service.reverse(2.35, 48.85).status == "not_found"


def test_a_service_down_gives_unavailable_outcomes_after_the_retries(session, down):
    service = _service(down.url, retries=2)
    outcomes = service.search_batch({"a": HIT_LILLE, "b": MISS})
    assert {o.status for o in outcomes.values()} == {"unavailable"}
    assert "did not answer after 3 tries (HTTP 503)" in outcomes["a"].error
    assert down.calls.count("/search/csv/") == 3
    assert service.search("1 place du Théâtre 59800 Lille").status == "unavailable"


def _rows() -> list[list[str]]:
    """Addresses without coordinates (HEADER: id, type, name, street, postcode, city…)."""
    return [["g-1", "Tiers-lieu", "Le Théâtre", *HIT_LILLE, "", "", "", ""],
            ["g-2", "Tiers-lieu", "La Grand Place", *HIT_ROUBAIX, "", "", "", ""],
            ["g-3", "Tiers-lieu", "Les Ateliers", *LOW, "", "", "", ""],
            ["g-4", "Tiers-lieu", "Nulle part", *MISS, "", "", "", ""],
            ["g-5", "Commun", "Un commun sans lieu", *HIT_TOURCOING, "", "", "", ""]]


def test_import_with_geocode_places_rows_and_reports_the_rest(app, session, replay,
                                                              tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "GEOCODER_URL", replay.url)
    path = write_csv(tmp_path / "addresses.csv", _rows(), header=HEADER)
    result = app.test_cli_runner().invoke(args=[
        "import", "csv", str(path), "--mapping", str(MAPPING), "--geocode", "--no-progress"])
    assert result.exit_code == 0, result.output
    imported = entries_of("csv:tiers-lieux-test")
    assert imported["g-1"].lonlat == pytest.approx((3.06505, 50.6376))
    assert imported["g-1"].insee_code == "59350" and imported["g-2"].insee_code == "59512"
    source = session.scalar(select(Source).where(Source.external_id == "g-1"))
    assert source.attributes["mapped"]["extra"]["geocoding"]["score"] == pytest.approx(0.962)
    assert imported["g-5"].lonlat == pytest.approx((3.16094, 50.72251))
    # The low score and the miss: reported, left without a position, so refused
    # (a third place needs one).
    assert "g-3" not in imported and "g-4" not in imported
    assert "low score (0.31): its position is not used" in result.output
    assert "found no position for this address" in result.output
    assert "Geocoded through" in result.output and "found 3" in result.output


def test_import_with_the_service_down_goes_on_and_reports_rows_left_without_position(
        app, session, down, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "GEOCODER_URL", down.url)
    monkeypatch.setitem(app.config, "GEOCODER_RETRIES", 0)
    path = write_csv(tmp_path / "addresses.csv", _rows(), header=HEADER)
    result = app.test_cli_runner().invoke(args=[
        "import", "csv", str(path), "--mapping", str(MAPPING), "--geocode", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "unavailable 5" in result.output
    assert result.output.count("did not answer: the row is left without a position") == 5
    imported = entries_of("csv:tiers-lieux-test")
    assert set(imported) == {"g-5"} and imported["g-5"].geom is None  # a commons: no place
    assert imported["g-5"].insee_code == "59599"


def test_the_entry_form_geocodes_an_address_for_editors_only(app, client, accounts, replay,
                                                             monkeypatch):
    monkeypatch.setitem(app.config, "GEOCODER_URL", replay.url)
    query = "/editor/geocode?street=25+Grand+Place&postcode=59100&city=Roubaix"
    assert client.get(query).status_code == 302  # to the login page
    login(client, "editor")
    answer = client.get(query).get_json()
    assert answer["status"] == "found" and answer["insee_code"] == "59512"
    assert (answer["lon"], answer["lat"]) == pytest.approx((3.17462, 50.69068))
    reverse = client.get("/editor/geocode/reverse?lon=3.1327&lat=50.6224").get_json()
    assert (reverse["city"], reverse["postcode"], reverse["insee_code"]) == (
        "Villeneuve-d'Ascq", "59650", "59009")
    assert client.get("/editor/geocode?city=a").status_code == 400
    assert client.get("/editor/geocode/reverse?lon=200&lat=0").status_code == 400
    form = client.get("/editor/entries/new").get_data(as_text=True)
    assert 'id="geocode-address"' in form and "/editor/geocode/reverse" in form


def test_the_map_searches_an_address_through_our_endpoint_rate_limited(app, client, replay,
                                                                        monkeypatch):
    monkeypatch.setitem(app.config, "GEOCODER_URL", replay.url)
    monkeypatch.setitem(app.config, "ADDRESS_SEARCH_RATE_LIMIT", "3 per minute")
    page = client.get("/").get_data(as_text=True)
    assert 'id="address-search"' in page and "/address-search" in page
    found = client.get("/address-search?q=25+Grand+Place+59100+Roubaix")
    assert found.status_code == 200
    assert found.get_json() == {"status": "found", "lon": 3.17462, "lat": 50.69068,
                                "label": "25 Grand Place 59100 Roubaix", "score": 0.931}
    assert client.get("/address-search?q=Impasse+des+Songes+59999+Nulle-Part"
                      ).get_json()["status"] == "not_found"
    assert client.get("/address-search?q=ab").status_code == 400
    assert client.get("/address-search?q=25+Grand+Place+59100+Roubaix").status_code == 429


def test_fill_reverse_gives_a_located_entry_without_address_its_commune(app, session, replay,
                                                                        monkeypatch):
    from app.services.entries import get_entry, save_entry
    from app.services.revisions import Author

    monkeypatch.setitem(app.config, "GEOCODER_URL", replay.url)
    save_entry(None, {"kind": "third_place", "name": "Sans adresse", "lon": 3.1327,
                      "lat": 50.6224}, author=Author(label="test"), expected_version=None)
    plain = app.test_cli_runner().invoke(args=["communes", "fill"])
    assert plain.exit_code == 0 and get_entry("sans-adresse").insee_code is None
    result = app.test_cli_runner().invoke(args=["communes", "fill", "--reverse"])
    assert result.exit_code == 0, result.output
    assert get_entry("sans-adresse").insee_code == "59009"  # Villeneuve-d'Ascq
    assert "/reverse/" in replay.calls
