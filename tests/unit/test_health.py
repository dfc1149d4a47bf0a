"""/healthz, and the clear words a misconfigured database gets."""


from sqlalchemy import text

from app.config import PROJECT_ROOT
from app.extensions import db
from tests.conftest import make_app
from tests.support.processes import free_port

VERSIONS = PROJECT_ROOT / "migrations" / "versions"


def newest_migration() -> str:
    return max(p.name.split("_", 1)[0] for p in VERSIONS.glob("*.py"))


def test_healthz_reports_postgis_and_the_migration_head(client, session):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    installed = session.execute(text(
        "SELECT extversion FROM pg_extension WHERE extname = 'postgis'")).scalar()
    assert body["database"]["postgis_version"] == installed
    assert body["database"]["server_version"].startswith("15")
    assert body["database"]["migration"] == {
        "current": newest_migration(), "head": newest_migration(), "up_to_date": True}


def test_unreachable_database_names_the_host_and_what_to_do():
    port = free_port()
    app = make_app(f"postgresql://atlas:secret@127.0.0.1:{port}/atlas")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert f"127.0.0.1:{port}/atlas" in error
    assert "DATABASE_URL" in error and "unset DATABASE_URL" in error
    assert "secret" not in error


def test_database_without_postgis_says_so(databases):
    app = make_app(databases.create("nopostgis"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert "PostGIS" in error and "not enabled in this database" in error
    assert "flask db upgrade" in error
    with app.app_context():
        db.engine.dispose()


def test_pending_migration_is_a_503(databases):
    app = make_app(databases.create("unmigrated"))
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION postgis"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert "flask db upgrade" in response.get_json()["error"]
    assert response.get_json()["database"]["migration"]["current"] is None
    with app.app_context():
        db.engine.dispose()


def test_the_live_server_answers_over_real_http(live_server):
    import json
    import urllib.request

    with urllib.request.urlopen(f"{live_server.url}/healthz", timeout=10) as response:
        assert response.status == 200
        assert json.load(response)["status"] == "ok"
