"""Migration 0020 writes default level definitions for the six keys only where none are
written: definitions an editor wrote on /editor/keys (possible since 0015) are kept."""

from __future__ import annotations

import json

from flask_migrate import upgrade
from sqlalchemy import text

from app.extensions import db
from tests.conftest import make_app

MINE = {"fr": ["Rien", "Un peu", "Moyen", "Bien", "Très bien"]}


def test_level_definitions_an_editor_wrote_are_kept(databases):
    app = make_app(databases.at_revision("0019", "migration_0020"))
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE evaluation_keys SET level_definitions = CAST(:v AS jsonb) "
                              "WHERE slug = 'governance'"), {"v": json.dumps(MINE)})
        upgrade()
        with db.engine.connect() as conn:
            found = dict(conn.execute(text(
                "SELECT slug, level_definitions FROM evaluation_keys")).all())
        db.engine.dispose()
    assert found["governance"] == MINE
    others = {slug: value for slug, value in found.items() if slug != "governance"}
    assert others and all(len(value["fr"]) == 5 and len(value["en"]) == 5
                          for value in others.values())
