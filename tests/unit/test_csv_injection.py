"""CSV formula injection (OWASP): every CSV we write quotes text a spreadsheet would run,
numbers stay numbers, and reading our own files back removes exactly that quote."""

from __future__ import annotations

import csv
import io
import json
import urllib.request
import zipfile

import pytest
from sqlalchemy import select

from app.config import PROJECT_ROOT
from app.extensions import db
from app.formats.csv_cells import escape_cell, unescape_cell
from app.models import Entry
from app.services.entries import save_entry
from app.services.revisions import Author
from tests.conftest import LiveServer, make_app

ROOT = PROJECT_ROOT
# name -> (the entry's fields, the cell the CSV export must hold for its name)
RISKY = {
    "formule-egal": {"name": "=1+1", "kind": "initiative", "lon": -1.5536, "lat": 47.2184,
                     "city": "Nantes", "description": "- un point\n- un autre"},
    "formule-moins": {"name": "-moins", "kind": "initiative", "city": "@home"},
    "formule-plus": {"name": "Téléphone", "kind": "initiative",
                     "phone": "+33 3 20 00 00 00"},
    "formule-arobase": {"name": "@home", "kind": "commons", "summary": "'=déjà cité"},
}
FIELDS = ("name", "city", "phone", "description", "summary")


@pytest.fixture(scope="module")
def risky_app(databases):
    app = make_app(databases.migrated("csv_injection"))
    with app.app_context():
        for slug, fields in RISKY.items():
            save_entry(None, {**fields, "slug": slug}, author=Author(label="test"),
                       expected_version=None)
        db.session.remove()
    return app


def empty_app(databases, label: str):
    return make_app(databases.migrated(label))


def rows(text: str) -> dict[str, dict[str, str]]:
    return {r["slug"]: r for r in csv.DictReader(io.StringIO(text))}


def stored(app) -> dict[str, dict[str, object]]:
    with app.app_context():
        out = {e.slug: {f: getattr(e, f) for f in FIELDS}
               for e in db.session.scalars(select(Entry))}
        db.session.remove()
    return out


def expected() -> dict[str, dict[str, object]]:
    return {slug: {f: fields.get(f) for f in FIELDS} for slug, fields in RISKY.items()}


@pytest.mark.parametrize("value", ["=1+1", "-moins", "+33", "@home", "\tx", "\rx", "'=x",
                                   "''-y", "'plain", "plain", "", "a=b"])
def test_escape_then_unescape_gives_the_value_back(value):
    escaped = escape_cell(value)
    assert unescape_cell(escaped) == value
    assert escaped[:1] not in ("=", "+", "-", "@", "\t", "\r")


def test_the_csv_export_quotes_formulas_and_keeps_numbers(risky_app, tmp_path):
    out = tmp_path / "atlas.csv"
    result = risky_app.test_cli_runner().invoke(args=["export", "csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "prefixed with a single quote" in result.stderr
    table = rows(out.read_text(encoding="utf-8"))
    assert table["formule-egal"]["name"] == "'=1+1"
    assert table["formule-egal"]["description"] == "'- un point\n- un autre"
    assert table["formule-egal"]["lon"] == "-1.5536"  # a number, not text: unquoted
    assert table["formule-moins"]["name"] == "'-moins"
    assert table["formule-moins"]["city"] == "'@home"
    assert table["formule-plus"]["phone"] == "'+33 3 20 00 00 00"
    assert table["formule-arobase"]["name"] == "'@home"
    assert table["formule-arobase"]["summary"] == "''=déjà cité"

    with LiveServer(risky_app) as server:
        with urllib.request.urlopen(f"{server.url}/api/v1/exports/entries.csv") as answer:
            assert answer.read() == out.read_bytes()
        with urllib.request.urlopen(f"{server.url}/api/v1/exports") as answer:
            index = {i["format"]: i for i in json.load(answer)["items"]}
        assert "formula" in index["csv"]["description"]


def test_the_data_package_quotes_formulas_and_says_so(risky_app, tmp_path):
    out = tmp_path / "atlas.zip"
    result = risky_app.test_cli_runner().invoke(args=["export", "datapackage", "-o", str(out)])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as archive:
        descriptor = json.loads(archive.read("datapackage.json"))
        table = rows(archive.read("entries.csv").decode())
    assert "single quote" in descriptor["description"]
    assert table["formule-egal"]["name"] == "'=1+1"
    assert table["formule-plus"]["phone"] == "'+33 3 20 00 00 00"


def test_mednum_quotes_text_but_not_its_numbers_and_checked_phone():
    from datetime import UTC, datetime

    from app.exports.mednum import map_row

    row = {"id": "x", "siret": "13002526500013", "rna": None,
           "name": "=HYPERLINK(\"http://x\")",
           "city": "@Lille", "postcode": "59000", "street": "-1 rue", "insee": None,
           "lat": 50.6, "lon": -3.1, "kind": "third_place", "phone": "+33 3 20 00 00 00",
           "email": None, "website": None, "opening_hours": None, "summary": "+plus",
           "description": None, "data_licence": None, "osm": False,
           "updated_at": datetime(2024, 1, 1, tzinfo=UTC)}
    cells, reasons, _ = map_row(row, "Atlas")
    assert reasons == []
    assert cells["nom"] == "'=HYPERLINK(\"http://x\")"
    assert cells["commune"] == "'@Lille" and cells["adresse"] == "'-1 rue"
    assert cells["presentation_resume"] == "'+plus"
    assert cells["longitude"] == "-3.1" and cells["telephone"] == "+33320000000"


@pytest.mark.parametrize("fmt,name", [("datapackage", "atlas.zip"), ("csv", "atlas.csv")])
def test_a_dump_restore_removes_exactly_the_quote(risky_app, databases, tmp_path, fmt, name):
    out = tmp_path / name
    result = risky_app.test_cli_runner().invoke(args=["export", fmt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    target = empty_app(databases, f"csv_injection_{fmt}")
    result = target.test_cli_runner().invoke(args=["import", "dump", str(out)])
    assert result.exit_code == 0, result.output
    assert stored(target) == expected()


def test_the_csv_importer_reads_our_export_back_without_the_quote(risky_app, databases,
                                                                 tmp_path):
    out = tmp_path / "atlas.csv"
    result = risky_app.test_cli_runner().invoke(args=["export", "csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    target = empty_app(databases, "csv_injection_importer")
    result = target.test_cli_runner().invoke(args=[
        "import", "csv", str(out), "--mapping", str(ROOT / "data/mappings/csv/atlas.toml"),
        "--no-progress", "--anywhere"])  # the Nantes entry is outside the territory
    assert result.exit_code == 0, result.output
    got = stored(target)
    assert {slug: got[slug] for slug in RISKY} == expected()
