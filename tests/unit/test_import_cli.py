"""`flask import osm|csv`, run as an administrator runs them, on a database of their own."""

from __future__ import annotations

import csv
import json
import threading
from http.server import ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Entry, ImportRun
from importers.mapping import load_osm_mapping
from tests.conftest import make_app
from tests.support.importer import DATA
from tests.support.overpass import FlakyOverpass, fixture_objects
from tests.support.processes import flask
from tests.support.serving import serving


@pytest.fixture(scope="module")
def cli_db(databases):
    url = databases.demo("import_cli")
    return url, make_app(url)


def _count(app, model) -> int:
    with app.app_context():
        try:
            return db.session.scalar(select(func.count()).select_from(model))
        finally:
            db.session.remove()


def test_import_osm_file_with_a_json_report_then_again(cli_db, tmp_path):
    url, app = cli_db
    mapping = load_osm_mapping()
    n = sum(1 for o in fixture_objects() if mapping.classify(o["tags"]))
    report = tmp_path / "report.json"
    result = flask("import", "osm", str(DATA / "lille-fixture.osm"), "--report", str(report),
                   "--progress", url=url)
    assert result.returncode == 0, result.stderr
    data = json.loads(report.read_text())
    assert data["counts"]["created"] == n
    assert f"created: {n}," in result.stdout
    assert "Tags created: community-centre" in result.stdout
    assert "100%" in result.stderr and "obj/s" in result.stderr        # the progress bar
    warnings = [i for i in data["items"] if i["kind"] == "warning"]
    assert [(w["external_id"], w["field"]) for w in warnings] == [
        ("node/9100000002", "siret"), ("node/9100000002", "opening_hours"),
        ("node/9100000017", "email")]

    again = flask("import", "osm", str(DATA / "lille-fixture.osm"), url=url)
    assert again.returncode == 0, again.stderr
    assert f"created: 0, updated: 0, unchanged: {n}," in again.stdout
    with app.app_context():
        runs = db.session.scalars(select(ImportRun).order_by(ImportRun.id)).all()
        assert [(r.status, r.created, r.unchanged) for r in runs[-2:]] == [
            ("finished", n, 0), ("finished", 0, n)]
        assert runs[-1].author_label == "import osm"
        db.session.remove()


def test_import_osm_from_overpass(cli_db):
    url, _app = cli_db
    FlakyOverpass.answer = (DATA / "overpass-lille.json").read_bytes()
    FlakyOverpass.failures, FlakyOverpass.queries = 1, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyOverpass)
    thread = threading.Thread(target=serving(server), daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_port}/api/interpreter"
        result = flask("import", "osm", "--overpass", "--endpoint", endpoint, "--dry-run",
                       "--area", "3.0,50.6,3.1,50.7", "--retries", "2", url=url)
    finally:
        server.shutdown()
        thread.join(timeout=5)
    assert result.returncode == 0, result.stderr
    assert "Dry run (nothing written)" in result.stdout
    assert len(FlakyOverpass.queries) == 2 and "(50.6,3.0,50.7,3.1)" in FlakyOverpass.queries[-1]


def test_import_csv_dry_run_with_a_csv_report(cli_db, tmp_path):
    url, app = cli_db
    path = tmp_path / "lieux.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="|")
        writer.writerow(["Identifiant", "Type", "Nom", "Adresse", "Code postal", "Ville",
                         "Latitude", "Longitude"])
        writer.writerow(["d-1", "Tiers-lieu", "Lieu du test CLI", "", "", "", "50.61", "3.09"])
        writer.writerow(["d-2", "Tiers-lieu", "Lieu sans position", "", "", "", "", ""])
    entries_before = _count(app, Entry)
    report = tmp_path / "report.csv"
    result = flask("import", "csv", str(path), "--mapping",
                   str(DATA / "mappings" / "tiers-lieux-test.toml"), "--dry-run",
                   "--report", str(report), url=url)
    assert result.returncode == 0, result.stderr
    assert "created: 1" in result.stdout and "rejected: 1" in result.stdout
    assert "rejected  row 3 [lon]: A third place needs a position" in result.stdout
    with report.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["kind"], r["row"], r["field"]) for r in rows] == [("rejected", "3", "lon")]
    assert _count(app, Entry) == entries_before


def test_import_csv_with_a_missing_column_fails_clearly(cli_db, tmp_path):
    url, app = cli_db
    path = tmp_path / "bad.csv"
    path.write_text("Identifiant;Type;Adresse\nx;Commun;rue\n", encoding="utf-8")
    entries_before = _count(app, Entry)
    report = tmp_path / "failed.json"
    result = flask("import", "csv", str(path), "--mapping",
                   str(DATA / "mappings" / "tiers-lieux-test.toml"), "--report", str(report),
                   url=url)
    assert result.returncode != 0
    assert "lacks the column(s) 'Nom'" in json.loads(report.read_text())["error"]
    assert "lacks the column(s) 'Nom'" in result.stderr
    assert "rolled back: nothing was written" in result.stderr
    assert "Traceback" not in result.stderr
    assert _count(app, Entry) == entries_before
