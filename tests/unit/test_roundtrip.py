"""Round trip: export everything, restore it into an empty instance with the importers
(`flask import dump`), export again: the two exports hold the same ids, fields, links,
sheets and sources."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import make_app
from tests.support.exports import build_export_database, published_demo_and_added, run_export

VERSIONS = ("version",)  # each database counts its own writes


@pytest.fixture(scope="module")
def source_app(databases):
    return build_export_database(databases.demo("roundtrip_source"))


def empty_instance(databases, label: str):
    return make_app(databases.migrated(label))


def export_to(app, name: str, path: Path) -> Path:
    result = run_export(app, name, "-o", str(path), "--base-url", "https://atlas.example")
    assert result.exit_code == 0, result.output
    return path


def restore(app, path: Path) -> str:
    result = app.test_cli_runner().invoke(args=["import", "dump", str(path)])
    assert result.exit_code == 0, result.output
    return result.output


def table(text: str, drop: tuple[str, ...] = ()) -> list[dict[str, str]]:
    return [{k: v for k, v in row.items() if k not in drop}
            for row in csv.DictReader(io.StringIO(text))]


def test_a_data_package_restores_into_an_empty_instance(source_app, databases, tmp_path):
    first = export_to(source_app, "datapackage", tmp_path / "first.zip")
    target = empty_instance(databases, "roundtrip_package")
    trial = target.test_cli_runner().invoke(args=["import", "dump", str(first), "--dry-run"])
    assert trial.exit_code == 0 and "Dry run (nothing written)" in trial.output
    assert f"created: {len(published_demo_and_added()[0])}" in trial.output
    with target.app_context():
        from app.extensions import db

        assert db.session.execute(text("SELECT count(*) FROM entries")).scalar() == 0
        db.session.remove()
    output = restore(target, first)
    assert "rejected: 0" in output and "conflicts: 0" in output
    second = export_to(target, "datapackage", tmp_path / "second.zip")

    with zipfile.ZipFile(first) as a, zipfile.ZipFile(second) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())
        for name in a.namelist():
            if name == "datapackage.json":
                before, after = json.loads(a.read(name)), json.loads(b.read(name))
                before.pop("created"), after.pop("created")
                assert before == after  # same tables, licence and sources (with counts)
                continue
            before, after = a.read(name).decode(), b.read(name).decode()
            assert table(before, VERSIONS) == table(after, VERSIONS), name
            assert len(table(before)) > 0 or name in ("evaluations.csv", "answers.csv")
    with zipfile.ZipFile(first) as a:
        assert len(table(a.read("relations.csv").decode())) > 0
        assert len(table(a.read("answers.csv").decode())) == 6

    # A second restore of the same dump changes nothing.
    output = restore(target, first)
    assert "created: 0" in output and "conflicts: 0" in output


def test_the_csv_export_restores_entries_and_links(source_app, databases, tmp_path):
    first = export_to(source_app, "csv", tmp_path / "atlas.csv")
    target = empty_instance(databases, "roundtrip_csv")
    output = restore(target, first)
    assert "rejected: 0" in output
    second = export_to(target, "csv", tmp_path / "again.csv")
    # Same ids, fields, links and licences; the source now names the dump it came from.
    drop = (*VERSIONS, "sources")
    assert table(first.read_text(), drop) == table(second.read_text(), drop)
    assert {r["sources"] for r in table(second.read_text())} == {"dump:atlas"}
    assert {r["data_licence"] for r in table(second.read_text())} == {"ODbL-1.0"}


def test_the_geojson_export_restores_entries(source_app, databases, tmp_path):
    first = export_to(source_app, "geojson", tmp_path / "atlas.geojson")
    target = empty_instance(databases, "roundtrip_geojson")
    restore(target, first)
    second = export_to(target, "geojson", tmp_path / "again.geojson")
    before, after = json.loads(first.read_text()), json.loads(second.read_text())

    def features(collection):
        for feature in collection["features"]:
            feature["properties"].pop("version")
        return collection["features"]

    assert features(before) == features(after)
    assert after["license"] == before["license"]
    assert [s["origin"] for s in after["sources"]] == ["dump:atlas"]


def test_a_file_that_is_not_an_export_is_refused_and_nothing_is_written(databases, tmp_path):
    target = empty_instance(databases, "roundtrip_bad")
    wrong = tmp_path / "other.csv"
    wrong.write_text("nom,commune\nUn lieu,Lille\n", encoding="utf-8")
    result = target.test_cli_runner().invoke(args=["import", "dump", str(wrong)])
    assert result.exit_code != 0
    assert "the header lacks id" in result.output and "Nothing was restored" in result.output
    from app.formats.public import PUBLIC_FIELDS

    broken = tmp_path / "broken.csv"
    cells = {name: "" for name in PUBLIC_FIELDS}
    good = {**cells, "id": "6f1c0000-0000-4000-8000-000000000001", "slug": "a",
            "kind": "initiative", "name": "A", "status": "active"}
    with broken.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=PUBLIC_FIELDS)
        writer.writeheader()
        writer.writerow(good)
        writer.writerow({**good, "id": "not-a-uuid", "slug": "b"})
    result = target.test_cli_runner().invoke(args=["import", "dump", str(broken)])
    assert result.exit_code != 0
    assert "row 3: id 'not-a-uuid' is not a UUID" in result.output
    with target.app_context():
        from sqlalchemy import func, select

        from app.extensions import db
        from app.models import Entry

        assert db.session.scalar(select(func.count()).select_from(Entry)) == 0
        db.session.remove()
