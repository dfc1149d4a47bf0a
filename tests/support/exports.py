"""A database of its own for the export tests: the demo data plus entries that exercise the
edges (an OpenStreetMap place with a SIRET and an INSEE code, an entry written by a named
editor, a pending and a deleted entry, a draft sheet), committed so that exports, which
read on their own connection, see them. The pending and the deleted entry have a
position: GoGoCarto drops entries without one, so only located ones show that it leaves
them out for what they are."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from flask import Flask

from app.config import PROJECT_ROOT
from app.extensions import db
from app.services.entries import SourceRef, delete_entry, find_entry, save_entry
from app.services.evaluations import save_evaluation
from app.services.revisions import Author
from app.services.users import create_user
from tests.conftest import make_app

FRICTIONLESS = Path(sys.executable).parent / "frictionless"
MEDNUM_DIR = PROJECT_ROOT / "tests" / "data" / "mednum"
MEDNUM_SCHEMA = MEDNUM_DIR / "lieux-mediation-numerique-v1.0.2.schema.json"

# What the tests add to the demo data; the expectations are computed from these.
EDITOR = {"email": "ada.private@example.org", "name": "Ada Privatperson"}
OSM_PLACE = {
    "kind": "third_place", "name": "Café des Communs Test", "slug": "cafe-des-communs-test",
    "summary": "Un café associatif de test, ouvert à toutes et tous. " * 8,
    "street": "12 rue du Test", "postcode": "59000", "city": "Lille", "country": "FR",
    "lon": 3.0571, "lat": 50.6311, "phone": "03 20 00 00 00",
    "email": "contact@cafe-communs.example", "website": "https://cafe-communs.example",
    "opening_hours": "Mo-Fr 09:00-12:00,14:00-18:00; Sa 10:00-12:00", "tags": ["cafe"],
    "siret": "910 000 017 00004", "osm_object": "node/4242", "insee_code": "59350",
}
OSM_SOURCE = SourceRef("osm", "node/4242", {"raw": {"amenity": "cafe",
                                                    "ref:FR:SIRET": "910 000 017 00004"}},
                       licence="ODbL-1.0")
EDITED = {"kind": "initiative", "name": "Jardin des Tests", "slug": "jardin-des-tests",
          "summary": "Une initiative saisie par une éditrice.", "city": "Roubaix",
          "tags": ["garden"]}
PENDING = {"kind": "third_place", "name": "Proposition en attente", "moderation": "pending",
           "city": "Lille", "lon": 3.0605, "lat": 50.6295}
DELETED = {"kind": "third_place", "name": "Lieu supprimé", "slug": "lieu-supprime",
           "city": "Lille", "lon": 3.0711, "lat": 50.6402}


def build_export_database(url: str) -> Flask:
    """The edge entries above added to `url`, a copy of the demo database."""
    app = make_app(url)
    with app.app_context():
        editor = create_user(EDITOR["email"], "a long enough password", "editor",
                             EDITOR["name"])
        by_editor = Author(user=editor)
        save_entry(None, OSM_PLACE, author=Author(label="import osm"), expected_version=None,
                   source=OSM_SOURCE)
        edited = save_entry(None, EDITED, author=by_editor, expected_version=None).entry
        save_entry(None, PENDING, author=by_editor, expected_version=None)
        gone = save_entry(None, DELETED, author=by_editor, expected_version=None).entry
        delete_entry(gone, expected_version=gone.version, author=by_editor)
        save_evaluation(edited, None, {"title": "Brouillon", "held_on": "2024-01-01",
                                       "state": "draft", "authors": EDITOR["name"]},
                        author=by_editor, expected_version=None)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return app


def run_export(app: Flask, *args: str) -> Any:
    """`flask export …`; the result has .stdout (the export) and .stderr (the summary)."""
    return app.test_cli_runner().invoke(args=["export", *args])


def frictionless(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The `frictionless` command from PyPI, as a data team would run it."""
    return subprocess.run([str(FRICTIONLESS), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def schema_errors(table: Path, schema: Path) -> list[list[Any]]:
    """What `frictionless validate --schema SCHEMA TABLE` finds wrong ([] when the table is
    valid), from the same library in this process: the command costs an interpreter start
    (0.9 s of CPU) per file. Both files must be in one folder (frictionless refuses paths
    that leave it)."""
    import frictionless as library

    assert table.parent == schema.parent, (table, schema)
    report = library.validate(table.name, schema=schema.name, basepath=str(table.parent))
    if report.valid:
        return []
    return (report.flatten(["rowNumber", "fieldName", "type", "note"])
            or [[error.type, error.note] for error in report.errors])


def published_demo_and_added() -> tuple[set[str], set[str]]:
    """Slugs expected in a full export, and slugs that must never appear."""
    from tests import demo_data

    public = {e["slug"] for e in demo_data.entries()} | {OSM_PLACE["slug"], EDITED["slug"]}
    hidden = {DELETED["slug"]}
    return public, hidden


def entry_id(app: Flask, slug: str) -> str:
    with app.app_context():
        entry = find_entry(slug)
        value = str(entry.id)
        db.session.remove()
        return value
