"""Migrations go up and down, and the models agree with what they build."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app.extensions import db
from tests.conftest import make_app

TABLES = {"entries", "tags", "entry_tags", "relations", "evaluation_keys", "evaluations",
          "answers", "revisions", "sources", "users", "api_tokens", "import_runs", "data_changes",
          "sync_states", "sync_pushed", "proposals", "user_sessions", "job_runs",
          "error_reports", "identity_links", "sheet_sources", "sync_pushed_sheets",
          "sheet_live_fields", "sheet_presence"}


def test_up_down_up_and_models_match(databases):
    app = make_app(databases.create("migrations"))
    with app.app_context():
        upgrade()
        assert set(inspect(db.engine).get_table_names()) >= TABLES

        downgrade(revision="base")
        remaining = set(inspect(db.engine).get_table_names())
        assert not TABLES & remaining
        with db.engine.connect() as conn:
            assert conn.execute(text(
                "SELECT count(*) FROM pg_ts_config WHERE cfgname = 'atlas_fr'")).scalar() == 0

        upgrade()
        with db.engine.connect() as conn:
            keys = conn.execute(text(
                "SELECT slug FROM evaluation_keys ORDER BY position")).scalars().all()
            assert keys == ["governance", "financing", "contribution", "sharing", "legal",
                            "partners"]
            context = MigrationContext.configure(conn, opts={
                "include_object": _include_object, "compare_type": True})
            diff = compare_metadata(context, db.metadata)
        assert diff == []
        db.engine.dispose()


def _include_object(obj, name, type_, reflected, compare_to):
    from geoalchemy2 import alembic_helpers

    if type_ == "table" and name == "spatial_ref_sys":
        return False
    if type_ == "index" and name in {"ix_entries_geog", "ix_entries_name_trgm",
                                     "ix_entries_website_key", "ix_entries_slug_pattern",
                                     "uq_users_email_lower"}:
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)
