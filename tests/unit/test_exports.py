"""Exports: every format holds what the base holds, names its licence and sources, keeps
personal data out, and passes the validators of its field (frictionless, RFC 7946)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from pathlib import Path

import geojson_validator
import pytest

from app.exports.gogocarto import open_hours
from app.exports.mednum import FIELDS as MEDNUM_FIELDS
from app.exports.mednum import phone_number
from app.formats.public import PUBLIC_FIELDS
from tests import demo_data
from tests.conftest import LiveServer
from tests.support.exports import (
    DELETED,
    EDITED,
    EDITOR,
    MEDNUM_DIR,
    MEDNUM_SCHEMA,
    OSM_PLACE,
    PENDING,
    build_export_database,
    frictionless,
    published_demo_and_added,
    run_export,
    schema_errors,
)

ALL_FORMATS = ("csv", "geojson", "jsonld", "datapackage", "mednum", "gogocarto",
               "datainclusion")


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def export_app(databases):
    return build_export_database(databases.demo("exports"))


@pytest.fixture(scope="module")
def exported(export_app, tmp_path_factory) -> dict[str, Path]:
    """Every format exported once by `flask export -o`, with its report."""
    folder = tmp_path_factory.mktemp("exports")
    files = {}
    for name in ALL_FORMATS:
        path = folder / f"out-{name}"
        result = run_export(export_app, name, "-o", str(path), "--report",
                            str(folder / f"report-{name}.csv"),
                            "--base-url", "https://atlas.example")
        assert result.exit_code == 0, result.output
        files[name] = path
        files[f"report-{name}"] = folder / f"report-{name}.csv"
        files[f"stderr-{name}"] = result.stderr
    return files


def all_bytes(path: Path) -> bytes:
    """A file's bytes, or every member's bytes for a zip."""
    data = path.read_bytes()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return b"\n".join(archive.read(name) for name in archive.namelist())
    return data


# -- CSV -------------------------------------------------------------------------------------

def test_csv_has_one_row_per_public_entry_with_the_public_fields(exported):
    rows = read_csv(exported["csv"].read_text(encoding="utf-8"))
    public, hidden = published_demo_and_added()
    assert list(rows[0])[:len(PUBLIC_FIELDS)] == list(PUBLIC_FIELDS)
    assert list(rows[0])[len(PUBLIC_FIELDS):] == ["relations", "sources", "data_licence"]
    assert {r["slug"] for r in rows} == public
    assert not hidden & {r["slug"] for r in rows}
    assert PENDING["name"] not in {r["name"] for r in rows}
    assert len({r["id"] for r in rows}) == len(rows)

    by_slug = {r["slug"]: r for r in rows}
    ids = {slug: r["id"] for slug, r in by_slug.items()}
    for spec in demo_data.entries():
        row = by_slug[spec["slug"]]
        assert row["tags"] == ";".join(sorted(spec.get("tags", [])))
        assert row["name"] == spec["name"]
        if "lon" in spec:
            assert (float(row["lon"]), float(row["lat"])) == (spec["lon"], spec["lat"])
        else:
            assert row["lon"] == row["lat"] == ""
        wanted = sorted((r["type"], ids[r["target"]]) for r in spec.get("relations", []))
        assert row["relations"] == ";".join(f"{t}:{i}" for t, i in wanted)
        assert row["sources"] == "demo"
    osm = by_slug[OSM_PLACE["slug"]]
    assert osm["sources"] == "osm" and osm["data_licence"] == "ODbL-1.0"
    assert osm["email"] == OSM_PLACE["email"]  # the place's own public contact


def test_csv_filters_by_kind_and_tag(export_app):
    result = run_export(export_app, "csv", "--kind", "third_place", "--tag", "grocery")
    assert result.exit_code == 0, result.output
    rows = read_csv(result.stdout)
    expected = {e["slug"] for e in demo_data.entries()
                if e["kind"] == "third_place" and "grocery" in e.get("tags", [])}
    assert expected and {r["slug"] for r in rows} == expected
    assert f"{len(expected)} entries written" in result.stderr


def test_an_unknown_tag_or_kind_is_refused_by_name(export_app):
    result = run_export(export_app, "csv", "--tag", "no-such-tag")
    assert result.exit_code != 0
    assert "--tag" in result.output and "no-such-tag" in result.output
    result = run_export(export_app, "csv", "--kind", "castle")
    assert result.exit_code != 0 and "--kind" in result.output


def test_every_export_names_its_licence_and_sources(exported):
    for name in ALL_FORMATS:
        stderr = exported[f"stderr-{name}"]
        assert "Licence: ODbL-1.0" in stderr
        assert "osm (1)" in stderr and "demo (60)" in stderr
    collection = json.loads(exported["geojson"].read_text())
    assert collection["license"]["name"] == "ODbL-1.0"
    assert {s["origin"] for s in collection["sources"]} == {"osm", "demo"}
    assert "OpenStreetMap" in collection["attribution"]
    gogo = json.loads(exported["gogocarto"].read_text())
    assert gogo["licence"] == "https://opendatacommons.org/licenses/odbl/1-0/"
    graph = json.loads(exported["jsonld"].read_text())["@graph"]
    assert graph[0]["@type"] == "Dataset"
    assert graph[0]["license"] == "https://opendatacommons.org/licenses/odbl/1-0/"
    mednum = read_csv(exported["mednum"].read_text())
    assert all("ODbL-1.0" in row["source"] for row in mednum)


def test_an_osm_source_makes_the_export_odbl_whatever_our_own_licence(export_app):
    export_app.config["DATA_LICENCE"] = "etalab-2.0"
    try:
        only_ours = run_export(export_app, "csv", "--tag", "garden", "--kind", "initiative")
        everything = run_export(export_app, "csv")
    finally:
        export_app.config["DATA_LICENCE"] = "ODbL-1.0"
    # The editor's entry has no source: our licence. The demo data is ODbL, OSM too.
    rows = {r["slug"]: r for r in read_csv(only_ours.stdout)}
    assert rows[EDITED["slug"]]["data_licence"] == "etalab-2.0"
    assert {r["data_licence"] for s, r in rows.items() if s != EDITED["slug"]} <= {"ODbL-1.0"}
    assert "Licence: ODbL-1.0" in everything.stderr
    rows = read_csv(everything.stdout)
    assert {r["slug"] for r in rows if r["data_licence"] == "etalab-2.0"} == {EDITED["slug"]}


def test_personal_data_never_leaves(exported):
    for name in ALL_FORMATS:
        data = all_bytes(exported[name])
        assert EDITOR["email"].encode() not in data, name
        assert EDITOR["name"].encode() not in data, name
        assert b"password" not in data.lower(), name
        assert b"moderation" not in data, name


# -- GeoJSON and JSON-LD ----------------------------------------------------------------------

def test_geojson_is_rfc7946_with_every_public_entry(exported):
    collection = json.loads(exported["geojson"].read_text())
    assert geojson_validator.validate_structure(collection, check_crs=True) == {}
    public, _ = published_demo_and_added()
    assert {f["properties"]["slug"] for f in collection["features"]} == public
    located = {e["slug"] for e in demo_data.located()} | {OSM_PLACE["slug"]}
    assert {f["properties"]["slug"] for f in collection["features"]
            if f["geometry"] is not None} == located


def test_jsonld_types_follow_the_kind_and_the_place(exported):
    graph = json.loads(exported["jsonld"].read_text())["@graph"]
    nodes = {n["@id"].rsplit("/", 1)[1]: n for n in graph[1:]}
    assert set(nodes) == published_demo_and_added()[0]
    for spec in demo_data.entries():
        node = nodes[spec["slug"]]
        if spec["kind"] == "initiative":
            assert node["@type"] == "Organization"
        elif spec["kind"] == "third_place" or "lon" in spec:
            assert node["@type"] == "Place"
        else:
            assert node["@type"] in ("CreativeWork", "SoftwareApplication")
        assert node["@id"] == f"https://atlas.example/entries/{spec['slug']}"
        assert "@context" not in node


# -- Frictionless data package ----------------------------------------------------------------

def test_the_data_package_passes_frictionless_validate(exported, tmp_path):
    shutil.copy(exported["datapackage"], tmp_path / "atlas.zip")
    checked = frictionless("validate", "atlas.zip", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "VALID" in checked.stdout and "INVALID" not in checked.stdout

    with zipfile.ZipFile(tmp_path / "atlas.zip") as archive:
        package = json.loads(archive.read("datapackage.json"))
        tables = {name: read_csv(archive.read(name).decode()) for name in archive.namelist()
                  if name.endswith(".csv")}
    assert {r["name"] for r in package["resources"]} == {
        "entries", "tags", "relations", "evaluation-keys", "evaluations", "answers", "sources"}
    assert package["licenses"][0]["name"] == "ODbL-1.0"
    assert {s["origin"] for s in package["sources"]} == {"osm", "demo"}
    demo = demo_data.demo()
    assert {t["slug"] for t in tables["tags.csv"]} == {t["slug"] for t in demo["tags"]}
    assert len(tables["relations.csv"]) == sum(len(e.get("relations", []))
                                               for e in demo["entries"])
    # Published sheets only: the demo's sheet, not the editor's draft.
    assert [e["title"] for e in tables["evaluations.csv"]] == [
        s["title"] for s in demo["evaluations"]]
    assert len(tables["answers.csv"]) == len(demo["evaluations"][0]["answers"])
    assert {(s["origin"], s["external_id"], s["licence"]) for s in tables["sources.csv"]
            if s["origin"] == "osm"} == {("osm", "node/4242", "ODbL-1.0")}
    assert tables["entries.csv"] == read_csv(exported["csv"].read_text())


# -- lieux de médiation numérique ---------------------------------------------------------------

def test_mednum_fields_are_the_schema_fields():
    schema = json.loads(MEDNUM_SCHEMA.read_text())
    assert tuple(f["name"] for f in schema["fields"]) == MEDNUM_FIELDS


def test_the_schema_example_validates_with_the_copied_schema(tmp_path):
    for path in MEDNUM_DIR.glob("*.*"):
        shutil.copy(path, tmp_path / path.name)
    assert schema_errors(tmp_path / "lieux-mediation-numerique-exemple-valide.csv",
                         tmp_path / MEDNUM_SCHEMA.name) == []


def test_mednum_export_validates_and_lists_every_refused_entry(exported, tmp_path):
    shutil.copy(MEDNUM_SCHEMA, tmp_path / MEDNUM_SCHEMA.name)
    shutil.copy(exported["mednum"], tmp_path / "lieux.csv")
    assert schema_errors(tmp_path / "lieux.csv", tmp_path / MEDNUM_SCHEMA.name) == []

    rows = read_csv(exported["mednum"].read_text())
    # Only the OSM place has a SIRET, an address and a position.
    assert [r["nom"] for r in rows] == [OSM_PLACE["name"]]
    row = rows[0]
    assert row["pivot"] == "91000001700004" and row["code_insee"] == "59350"
    assert (row["latitude"], row["longitude"]) == (str(OSM_PLACE["lat"]), str(OSM_PLACE["lon"]))
    assert row["horaires"] == OSM_PLACE["opening_hours"]
    assert row["telephone"] == "+33320000000"
    assert row["typologie"] == "TIERS_LIEUX"
    assert (row["commune"], row["code_postal"], row["adresse"]) == (
        OSM_PLACE["city"], OSM_PLACE["postcode"], OSM_PLACE["street"])
    assert len(row["presentation_resume"]) <= 280
    assert "OpenStreetMap" in row["source"]

    report = read_csv(exported["report-mednum"].read_text())
    refused = {r["slug"]: r["reasons"] for r in report if r["kind"] == "refused"}
    public, _ = published_demo_and_added()
    assert set(refused) == public - {OSM_PLACE["slug"]}
    for spec in demo_data.entries():
        reasons = refused[spec["slug"]]
        assert "pivot:" in reasons
        assert ("code_postal:" in reasons) == ("postcode" not in spec)
        assert ("adresse:" in reasons) == ("street" not in spec)
        assert ("commune:" in reasons) == ("city" not in spec)
    notes = {r["slug"]: r["reasons"] for r in report if r["kind"] == "note"}
    assert "presentation_resume" in notes[OSM_PLACE["slug"]]
    assert f"{len(refused)} entries refused" in exported["stderr-mednum"]


# -- data·inclusion structures ------------------------------------------------------------------

def test_datainclusion_structures_validate_with_the_schema_package(exported):
    """Every row is a valid `Structure` of data·inclusion's own pydantic model (v1), and
    every entry left out is reported with the field it lacks."""
    from data_inclusion.schema.v1 import Structure

    rows = json.loads(exported["datainclusion"].read_text(encoding="utf-8"))
    structures = [Structure.model_validate(row, context={"ignore_warnings": False})
                  for row in rows]
    public, _ = published_demo_and_added()
    by_id = {s.id.rsplit("--", 1)[1]: s for s in structures}
    report = read_csv(exported["report-datainclusion"].read_text())
    refused = {r["slug"]: r["reasons"] for r in report if r["kind"] == "refused"}
    assert len(structures) + len(refused) == len(public)
    without_city = {e["slug"] for e in demo_data.entries() if "city" not in e}
    assert set(refused) == without_city and without_city
    assert all(reasons.startswith("commune:") for reasons in refused.values())
    osm = next(s for s in structures if s.nom == OSM_PLACE["name"])
    assert osm.siret == "91000001700004" and osm.code_insee == "59350"
    assert osm.horaires_accueil == OSM_PLACE["opening_hours"]
    assert str(osm.lien_source) == f"https://atlas.example/entries/{OSM_PLACE['slug']}"
    assert osm.telephone == "+33320000000" and osm.code_postal == "59000"
    assert len(by_id) == len(structures)  # ids are unique


@pytest.mark.parametrize(("raw", "expected"), [
    ("03 20 00 00 00", "+33320000000"), ("+33 3 20 00 00 00", "+33320000000"),
    ("0033 6 12 34 56 78", "+33612345678"), ("03.20.00.00.00", "+33320000000"),
    ("+32 2 123 45 67", None), ("123", None), (None, None)])
def test_phone_numbers_in_the_schema_form(raw, expected):
    assert phone_number(raw) == expected


# -- GoGoCarto ------------------------------------------------------------------------------------

def test_gogocarto_elements_have_the_documented_fields(exported):
    document = json.loads(exported["gogocarto"].read_text())
    assert document["ontology"] == "gogofull"
    elements = {e["name"]: e for e in document["data"]}
    located = {e["name"]: e for e in demo_data.located()}
    assert set(elements) == set(located) | {OSM_PLACE["name"]}
    for name, spec in located.items():
        element = elements[name]
        assert (element["geo"]["latitude"], element["geo"]["longitude"]) == (
            spec["lat"], spec["lon"])
        assert element["sourceKey"] == "Atlas des communs"
        assert isinstance(element["categories"], list) and element["categories"]
        assert element.get("address", {}).get("postalCode") == spec.get("postcode")
        assert element.get("address", {}).get("addressLocality") == spec.get("city")
        assert element.get("address", {}).get("streetAddress") == spec.get("street")
        assert element.get("website") == spec.get("website")
        assert element["description"] == spec["summary"]
    osm = elements[OSM_PLACE["name"]]
    assert osm["telephone"] == OSM_PLACE["phone"] and osm["email"] == OSM_PLACE["email"]
    assert osm["openHours"] == {"Mo": "09:00-12:00,14:00-18:00", "Tu": "09:00-12:00,14:00-18:00",
                                "We": "09:00-12:00,14:00-18:00", "Th": "09:00-12:00,14:00-18:00",
                                "Fr": "09:00-12:00,14:00-18:00", "Sa": "10:00-12:00"}
    assert osm["openHoursString"] == OSM_PLACE["opening_hours"]
    assert (osm["siret"], osm["osm_object"]) == ("91000001700004", "node/4242")
    assert "rna" not in osm  # nothing empty is written
    assert "Tiers-lieu" in osm["categories"] and "Café" in osm["categories"]
    report = read_csv(exported["report-gogocarto"].read_text())
    unlocated = {e["slug"] for e in demo_data.entries() if "lon" not in e} | {EDITED["slug"]}
    assert {r["slug"] for r in report} == unlocated


@pytest.mark.parametrize(("raw", "expected"), [
    ("We 13:30-19:30; Th,Fr 09:30-13:00,15:00-19:00; Sa 09:30-12:30",
     {"We": "13:30-19:30", "Th": "09:30-13:00,15:00-19:00", "Fr": "09:30-13:00,15:00-19:00",
      "Sa": "09:30-12:30"}),
    ("Sa-Mo 10:00-12:00; Su off", {"Mo": "10:00-12:00", "Sa": "10:00-12:00"}),
    # Closed public holidays are an exception a week cannot show (openHoursString keeps it).
    ("Mo-Fr 09:00-18:00; PH off", {d: "09:00-18:00" for d in ("Mo", "Tu", "We", "Th", "Fr")}),
    ("24/7", {d: "00:00-23:59" for d in ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")}),
    ("PH 10:00-12:00", None), ("Mo-Fr 9h-18h", None), ("", None)])
def test_osm_hours_by_day(raw, expected):
    assert open_hours(raw) == expected


# -- over HTTP ------------------------------------------------------------------------------------

def test_http_exports_are_the_cli_exports_with_licence_links(export_app, exported):
    import urllib.error
    import urllib.request

    with LiveServer(export_app) as server:
        index = json.load(urllib.request.urlopen(f"{server.url}/api/v1/exports"))
        urls = {item["format"]: item for item in index["items"]}
        assert set(urls) == set(ALL_FORMATS)
        with urllib.request.urlopen(urls["csv"]["url"]) as answer:
            body = answer.read()
            assert answer.headers["Content-Type"].startswith("text/csv")
            assert 'rel="license"' in answer.headers["Link"]
            assert "odbl" in answer.headers["Link"]
            assert "attachment" in answer.headers["Content-Disposition"]
            etag = answer.headers["ETag"]
        assert body == exported["csv"].read_bytes()
        request = urllib.request.Request(urls["csv"]["url"], headers={"If-None-Match": etag})
        with pytest.raises(urllib.error.HTTPError) as not_modified:
            urllib.request.urlopen(request)
        assert not_modified.value.code == 304

        with urllib.request.urlopen(urls["mednum"]["refused_url"]) as answer:
            refused = read_csv(answer.read().decode())
        on_file = read_csv(exported["report-mednum"].read_text())
        assert refused == on_file
        with urllib.request.urlopen(f"{server.url}/api/v1/exports/entries.geojson"
                                    "?kind=commons&located=false") as answer:
            collection = json.load(answer)
        expected = {e["slug"] for e in demo_data.entries()
                    if e["kind"] == "commons" and "lon" not in e}
        assert {f["properties"]["slug"] for f in collection["features"]} == expected
        assert collection["filters"] == {"kind": ["commons"], "located": ["false"]}
        with pytest.raises(urllib.error.HTTPError) as bad:
            urllib.request.urlopen(f"{server.url}/api/v1/exports/entries.csv?tag=nope")
        assert bad.value.code == 400
        assert json.load(bad.value)["invalid-params"][0]["name"] == "tag"


def test_deleted_and_pending_entries_stay_out(exported):
    # Both have a position: GoGoCarto leaves out entries without one, which proves nothing.
    assert all("lon" in probe and "lat" in probe for probe in (PENDING, DELETED))
    for name in ("csv", "geojson", "jsonld", "gogocarto", "report-gogocarto"):
        data = all_bytes(exported[name]).decode()
        assert DELETED["name"] not in data and PENDING["name"] not in data, name


def test_a_national_file_imported_comes_back_out_in_the_national_schema(databases, tmp_path):
    """The schema's example, imported with the importers' mednum mapping, exported again:
    the pivot and the INSEE code its source keeps are given back, and it validates."""
    from tests.conftest import make_app

    app = make_app(databases.demo("mednum_national"))
    example = MEDNUM_DIR / "lieux-mediation-numerique-exemple-valide.csv"
    imported = app.test_cli_runner().invoke(args=[
        "import", "csv", str(example), "--mapping",
        "data/mappings/csv/lieux-mediation-numerique.toml", "--no-progress"])
    assert imported.exit_code == 0, imported.output
    result = run_export(app, "mednum", "--tag", "digital-inclusion", "-o",
                        str(tmp_path / "lieux.csv"))
    assert result.exit_code == 0, result.output
    original = read_csv(example.read_text(encoding="utf-8"))[0]
    rows = read_csv((tmp_path / "lieux.csv").read_text(encoding="utf-8"))
    assert len(rows) == 1
    for name in ("pivot", "nom", "commune", "code_postal", "code_insee", "adresse",
                 "telephone", "horaires", "presentation_resume", "presentation_detail"):
        assert rows[0][name] == original[name], name
    assert rows[0]["courriels"] == original["courriels"].split("|")[0]
    assert "Licence Ouverte" in result.stderr  # the source is credited
    shutil.copy(MEDNUM_SCHEMA, tmp_path / MEDNUM_SCHEMA.name)
    assert schema_errors(tmp_path / "lieux.csv", tmp_path / MEDNUM_SCHEMA.name) == []
