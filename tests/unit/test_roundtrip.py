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
from tests.support.statements import statements_sent

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


# -- the set-based restore --------------------------------------------------------------------

def synthetic_csv(path: Path, count: int, extra: list[dict[str, str]] = ()) -> list[str]:
    """A CSV export of `count` entries, every fourth linked to the next one (further down
    the file: the link waits for the second pass), then the `extra` rows; their ids."""
    import uuid

    from app.formats.public import PUBLIC_FIELDS

    ids = [str(uuid.UUID(int=0x6F1C << 112 | i)) for i in range(1, count + 1)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*PUBLIC_FIELDS, "relations"],
                                extrasaction="ignore")
        writer.writeheader()
        for i, entry_id in enumerate(ids):
            writer.writerow({
                "id": entry_id, "slug": f"lieu-{i}", "kind": "initiative",
                "name": f"Lieu {i}", "status": "active", "city": "Lille",
                "lon": "3.05" if i % 2 else "", "lat": "50.63" if i % 2 else "",
                "tags": "garden;repair" if i % 3 == 0 else "",
                "created_at": "2020-01-02T03:04:05Z", "updated_at": "2021-02-03T04:05:06Z",
                "relations": f"uses:{ids[(i + 1) % count]}" if i % 4 == 0 else ""})
        for row in extra:
            writer.writerow(row)
    return ids


def test_a_restore_is_set_based_and_keeps_times_links_and_revisions(databases, tmp_path):
    import uuid

    from sqlalchemy import select

    from app.extensions import db
    from app.models import Entry, Revision
    from app.restore import Restore, open_dump
    from app.services.entries import snapshot

    path = tmp_path / "big.csv"
    ids = synthetic_csv(path, 2_500)
    target = empty_instance(databases, "roundtrip_setbased")
    with target.app_context():
        with statements_sent(db.engine) as seen:
            result = Restore(open_dump(path)).run()
        assert result.counts["created"] == 2_500 and result.counts["rejected"] == 0
        # Set-based: statements per batch of a thousand, not per entry (it was over 30,000).
        assert len(seen) < 150, len(seen)

        first = db.session.get(Entry, uuid.UUID(ids[0]))
        assert first.created_at.isoformat() == "2020-01-02T03:04:05+00:00"
        assert first.updated_at.isoformat() == "2021-02-03T04:05:06+00:00"
        assert [str(r.target_id) for r in first.relations_out] == [ids[1]]
        assert sorted(t.slug for t in first.tags) == ["garden", "repair"]
        # Each entry's last revision is its snapshot as the write service takes it, and
        # its version counts its revisions (2 for the linked ones).
        for entry in db.session.scalars(select(Entry).order_by(Entry.slug).limit(300)):
            revisions = db.session.scalars(select(Revision).where(
                Revision.entity_id == entry.id).order_by(Revision.version)).all()
            assert [r.version for r in revisions] == list(range(1, entry.version + 1))
            assert revisions[-1].snapshot == snapshot(entry)
            assert entry.version == (2 if entry.relations_out else 1)
        db.session.remove()

    again = restore(target, path)
    assert "created: 0" in again and "unchanged: 2500" in again and "conflicts: 0" in again


def test_refusals_name_their_row_and_spare_the_rest(databases, tmp_path):
    import uuid

    from app.extensions import db
    from app.services.entries import SourceRef, save_entry
    from app.services.revisions import Author

    target = empty_instance(databases, "roundtrip_refusals")
    with target.app_context():
        save_entry(None, {"kind": "commons", "name": "Déjà là", "slug": "deja-la"},
                   author=Author(label="test"), expected_version=None,
                   source=SourceRef("dump:refusals", "6f1c0000-0000-4000-8000-00000000000c"))
        db.session.remove()
    base = {"kind": "initiative", "status": "active", "created_at": "2020-01-01T00:00:00Z",
            "updated_at": "2020-01-01T00:00:00Z"}
    missing = str(uuid.uuid4())
    rows = [  # rows 5 to 9 of the file, after the three synthetic entries
        {**base, "id": "6f1c0000-0000-4000-8000-00000000000a", "slug": "deja-la",
         "name": "Slug pris"},
        {**base, "id": "6f1c0000-0000-4000-8000-00000000000b", "slug": "sans-position",
         "name": "Sans position", "kind": "third_place"},
        {**base, "id": "6f1c0000-0000-4000-8000-00000000000c", "slug": "source-prise",
         "name": "Source prise"},
        {**base, "id": "6f1c0000-0000-4000-8000-00000000000d", "slug": "lien-perdu",
         "name": "Lien perdu", "relations": f"uses:{missing}"},
        {**base, "id": "6f1c0000-0000-4000-8000-00000000000e", "slug": "mauvais-courriel",
         "name": "Mauvais courriel", "email": "pas-un-courriel"},
    ]
    path = tmp_path / "refusals.csv"
    synthetic_csv(path, 3, rows)
    output = restore(target, path)
    assert "created: 4" in output and "rejected: 4" in output and "warnings: 3" in output
    assert "row 5" in output and "slug: This slug is already used by another entry." in output
    assert "row 6" in output and "A third place needs a position" in output
    assert "row 7" in output and "is already the source of another entry" in output
    assert "row 9" in output and "email:" in output
    assert f"links not restored: relations.0.target: No entry '{missing}'" in output
    with target.app_context():
        from sqlalchemy import func, select

        from app.models import Entry

        assert db.session.scalar(select(func.count()).select_from(Entry)) == 5
        lost = db.session.scalar(select(Entry).where(Entry.slug == "lien-perdu"))
        assert lost.relations_out == [] and lost.version == 1
        db.session.remove()


def test_a_tag_that_cannot_be_stored_rejects_its_rows_only(databases, tmp_path):
    """A CSV dump naming a tag whose slug the tags table refuses: that tag is reported and
    its rows rejected, with their row numbers; the rest of the file is restored (it used to
    fail the whole run on the database's check constraint)."""
    target = empty_instance(databases, "roundtrip_bad_tag")
    base = {"kind": "initiative", "status": "active", "created_at": "2020-01-01T00:00:00Z",
            "updated_at": "2020-01-01T00:00:00Z"}
    rows = [{**base, "id": "6f1c0000-0000-4000-8000-0000000000f1", "slug": "mal-etiquete",
             "name": "Mal étiqueté", "tags": "Jardin Partagé;garden"}]
    path = tmp_path / "bad-tag.csv"
    synthetic_csv(path, 3, rows)
    output = restore(target, path)
    assert "created: 3" in output and "rejected: 1" in output, output
    assert "warning   row 5 [tags]: tag 'Jardin Partagé' not created: slug:" in output
    assert "rejected  row 5: tags.0: Use lowercase letters" in output
    with target.app_context():
        from sqlalchemy import select

        from app.extensions import db
        from app.models import Tag

        assert sorted(db.session.scalars(select(Tag.slug))) == ["garden", "repair"]
        db.session.remove()
