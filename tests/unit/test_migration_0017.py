"""Migration 0017 on a base that loaded the demo before its ids were stable: the rows keep
their ids, the stable ones become aliases, and the sheets' feed columns are filled."""

from __future__ import annotations

import uuid

from flask_migrate import upgrade
from sqlalchemy import text

from app.demo import stable_entry_id, stable_sheet_id
from app.extensions import db
from tests.conftest import make_app


def test_a_legacy_demo_base_gets_aliases_and_keeps_its_ids(databases):
    app = make_app(databases.at_revision("0012", "migration_0017"))
    old_entry, old_sheet, draft = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO entries (id, slug, kind, name) "
                              "VALUES (:id, 'la-coroutine', 'commons', 'La Coroutine')"),
                         {"id": old_entry})
            conn.execute(text("INSERT INTO sources (entry_id, origin, external_id) "
                              "VALUES (:id, 'demo', 'la-coroutine')"), {"id": old_entry})
            for sheet, title, state in ((old_sheet, "Assemblée", "published"),
                                        (draft, "Brouillon", "draft")):
                conn.execute(text(
                    "INSERT INTO evaluations (id, entry_id, title, held_on, state) "
                    "VALUES (:id, :entry, :title, '2016-05-26', :state)"),
                    {"id": sheet, "entry": old_entry, "title": title, "state": state})
                conn.execute(text(
                    "INSERT INTO revisions (entity_type, entity_id, version, action, "
                    "author_label, snapshot) VALUES ('evaluation', :id, 1, 'create', "
                    ":author, CAST(:snapshot AS jsonb))"),
                    {"id": sheet, "author": "demo" if state == "published" else "editor",
                     "snapshot": f'{{"state": "{state}"}}'})
        upgrade()
        with db.engine.connect() as conn:
            links = set(conn.execute(text(
                "SELECT entity_type, alias_id, entity_id, origin FROM identity_links")).all())
            flags = dict(conn.execute(text("SELECT id, ever_published FROM evaluations")).all())
            entries = conn.execute(text("SELECT id FROM entries")).scalars().all()
        db.engine.dispose()
    assert entries == [old_entry]  # no row re-keyed
    assert links == {
        ("entry", stable_entry_id("la-coroutine"), old_entry, "demo"),
        ("evaluation", stable_sheet_id("la-coroutine", "2016-05-26", "Assemblée"), old_sheet,
         "demo")}
    assert flags == {old_sheet: True, draft: False}
