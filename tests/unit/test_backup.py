"""`flask backup create|restore`: the whole database, restored row for row, and clear
refusals (non-empty target, wrong URL, missing pg_dump)."""

from __future__ import annotations

import psycopg2
import pytest

from app.extensions import db
from app.services.proposals import propose_entry
from app.services.revisions import Author
from app.services.tokens import create_token
from app.services.users import find_user
from tests.conftest import make_app
from tests.support.editor import login
from tests.support.exports import EDITOR, build_export_database

PASSWORD = "a long enough password"  # build_export_database's editor
TABLES_SQL = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname = 'public'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1
"""


def url_of(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg2://",
                                                         "postgresql://")


def table_digests(app) -> dict[str, tuple[int, str]]:
    """Every table's row count and the md5 of its rows (as text, in order)."""
    with psycopg2.connect(url_of(app)) as conn, conn.cursor() as cur:
        cur.execute(TABLES_SQL)
        out = {}
        for (name,) in cur.fetchall():
            cur.execute(f'SELECT count(*), md5(coalesce(string_agg(t::text, E\'\\n\' '
                        f'ORDER BY t::text), \'\')) FROM "{name}" AS t')  # names from pg
            out[name] = cur.fetchone()
    conn.close()
    return out


def backup(app, *args: str):
    return app.test_cli_runner().invoke(args=["backup", *args])


@pytest.fixture(scope="module")
def source(databases):
    """The export fixtures (an editor, pending and deleted entries, a draft sheet, their
    revisions) plus an API token and a proposal."""
    app = build_export_database(databases.demo("backup_source"))
    with app.app_context():
        create_token(find_user(EDITOR["email"]), "backup test script")
        propose_entry({"kind": "initiative", "name": "Proposition à relire"},
                      author=Author(label="visiteur"), contact="v@example.org")
        db.session.remove()
        db.engine.dispose()
    return app


@pytest.fixture(scope="module")
def dump_file(source, tmp_path_factory):
    path = tmp_path_factory.mktemp("backup") / "atlas.dump"
    result = backup(source, "create", "--output", str(path))
    assert result.exit_code == 0, result.output
    assert f"written to {path}" in result.output
    return path


def test_a_backup_restores_every_row_into_an_empty_database(source, dump_file, databases):
    before = table_digests(source)
    for name in ("users", "api_tokens", "proposals", "revisions", "evaluations", "entries",
                 "alembic_version"):
        assert before[name][0] > 0, name
    with psycopg2.connect(url_of(source)) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FILTER (WHERE moderation = 'pending'), "
                    "count(*) FILTER (WHERE deleted_at IS NOT NULL) FROM entries")
        assert all(n > 0 for n in cur.fetchone())
        cur.execute("SELECT count(*) FROM evaluations WHERE state = 'draft'")
        assert cur.fetchone()[0] > 0
    conn.close()

    target = make_app(databases.create("backup_target"))
    result = backup(target, "restore", str(dump_file))
    assert result.exit_code == 0, result.output
    assert "Schema up to date" in result.output
    assert table_digests(target) == before

    client = target.test_client()
    login(client, EDITOR["email"], PASSWORD)
    assert client.get("/editor/").status_code == 200


def test_a_database_that_is_not_empty_is_refused_unless_forced(source, dump_file, databases):
    target = make_app(databases.migrated("backup_busy"))
    refused = backup(target, "restore", str(dump_file))
    assert refused.exit_code != 0
    assert "is not empty" in refused.output and "--force" in refused.output
    assert table_digests(target)["users"][0] == 0  # untouched

    forced = backup(target, "restore", str(dump_file), "--force")
    assert forced.exit_code == 0, forced.output
    assert table_digests(target) == table_digests(source)


def test_clear_errors_for_a_wrong_url_a_missing_binary_and_a_foreign_file(
        source, databases, tmp_path):
    nowhere = make_app(url_of(source).rsplit("/", 1)[0] + "/atlas_no_such_database")
    result = backup(nowhere, "create", "-o", str(tmp_path / "x.dump"))
    assert result.exit_code != 0
    assert "Cannot connect to PostgreSQL" in result.output
    assert "atlas_no_such_database" in result.output
    assert not (tmp_path / "x.dump").exists()

    source.config["PG_BINDIR"] = str(tmp_path)
    try:
        result = backup(source, "create", "-o", str(tmp_path / "y.dump"))
    finally:
        source.config["PG_BINDIR"] = None
    assert result.exit_code != 0
    assert f"No pg_dump of PostgreSQL 15 or later in {tmp_path}" in result.output
    assert "ATLAS_PG_BINDIR" in result.output

    foreign = tmp_path / "notes.dump"
    foreign.write_text("not a dump")
    target = make_app(databases.create("backup_foreign"))
    result = backup(target, "restore", str(foreign))
    assert result.exit_code != 0
    assert "is not a backup of `flask backup create`" in result.output


def test_the_password_goes_through_the_environment_never_the_command_line(
        source, tmp_path, monkeypatch):
    import subprocess

    from sqlalchemy.engine import make_url

    password = make_url(source.config["SQLALCHEMY_DATABASE_URI"]).password
    assert password  # the local cluster asks for one (scram-sha-256)
    calls = []
    real_run = subprocess.run

    def spy(args, *rest, **kw):  # the real pg_dump runs; its arguments are kept
        calls.append((list(args), (kw.get("env") or {}).get("PGPASSWORD")))
        return real_run(args, *rest, **kw)

    monkeypatch.setattr("app.backup.subprocess.run", spy)
    result = backup(source, "create", "-o", str(tmp_path / "spied.dump"))
    assert result.exit_code == 0, result.output
    dumps = [(args, env) for args, env in calls if "--format=custom" in args]
    assert len(dumps) == 1 and dumps[0][1] == password
    assert all(password not in " ".join(args) for args, _ in calls)
    assert (tmp_path / "spied.dump").stat().st_mode & 0o777 == 0o600
