"""The app never starts a database: DATABASE_URL is required, the local cluster is the
Makefile's business (with the PostgreSQL major Debian ships), `make clean` keeps var/."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from app import create_app
from app.config import PROJECT_ROOT, ConfigurationError
from app.localdb import (
    Cluster,
    LocalDbError,
    chosen_major,
    debian_packages,
    installed_majors,
    server_url,
)


def test_create_app_without_a_database_says_so_and_starts_nothing(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("ATLAS_PGROOT", str(tmp_path / "pg"))
    with pytest.raises(ConfigurationError, match="DATABASE_URL is not set"):
        create_app({"SECRET_KEY": "x"})
    assert not (tmp_path / "pg").exists()


def test_flask_help_starts_no_cluster(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_DATABASE_URL")}
    env.update(ATLAS_PGROOT=str(tmp_path / "pg"), FLASK_APP="app", SECRET_KEY="x")
    result = subprocess.run([sys.executable, "-m", "flask", "--help"], env=env, cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert "DATABASE_URL is not set" in result.stderr
    assert not (tmp_path / "pg").exists()


# Imported by create_app() and `atlas` only when a command needs them: each costs every
# start (a gunicorn worker, a timer's job, any `atlas …` command) tens of milliseconds of CPU.
DEFERRED_MODULES = (
    "alembic", "flask_migrate", "mako", "pygments",  # migrations: `db …` and upgrade()
    "requests", "urllib3",  # HTTP clients: geocoding, jobs, webhooks
    "markdown_it",  # rendering a description
    "cryptography",  # the credentials of registered sources
    "pyproj", "tqdm",  # imports: Lambert-93 coordinates, the progress bar
    "flask_limiter.commands", "rich",  # `atlas limiter`, a package's command
)

FRESH_START = """
import contextlib, gc, io, json, sys
from app.extensions import db
from app.wsgi import app  # what gunicorn runs: create_app(), then the collector told
tracked = len(gc.get_objects())
from app.console import cli  # `atlas users --help`: an app's command, found and run
with contextlib.redirect_stdout(io.StringIO()) as shown:
    cli.main(["users", "--help"], prog_name="atlas", standalone_mode=False)
deferred = sorted(name for name in sys.argv[1:] if name in sys.modules)
with contextlib.redirect_stdout(io.StringIO()) as package_help:  # a package's command
    cli.main(["limiter", "--help"], prog_name="atlas", standalone_mode=False)
print(json.dumps({
    "atlas_help": shown.getvalue(),
    "package_command_help": package_help.getvalue(),
    "unconfigured": sorted(m.class_.__name__ for m in db.Model.registry.mappers
                           if not m.configured),
    "deferred": deferred,
    "frozen": gc.get_freeze_count(),
    "tracked": tracked,
}))
"""


@pytest.fixture(scope="module")
def fresh_start() -> dict:
    """What a fresh interpreter holds after create_app() and an `atlas` command: one
    interpreter start for the tests below (this test run's has imported everything)."""
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
           "SECRET_KEY": "x"}
    result = subprocess.run([sys.executable, "-c", FRESH_START, *DEFERRED_MODULES], env=env,
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_create_app_configures_the_mappers(fresh_start):
    """After create_app() every mapper is configured, so no later query does it lazily,
    where an interruption would leave it half done."""
    assert fresh_start["unconfigured"] == []


def test_the_server_entry_point_keeps_the_apps_objects_from_the_collector(fresh_start):
    """A full collection walks every tracked object: the ~170,000 of a new app cost some
    request ~90 ms each time (app/wsgi.py). What the app keeps is frozen, so a
    collection walks what requests make."""
    assert fresh_start["frozen"] > 100_000
    assert fresh_start["tracked"] < fresh_start["frozen"] / 20


def test_create_app_imports_no_module_only_some_commands_need(fresh_start):
    """Nor does an `atlas` command of the app: the installed packages' commands are loaded
    only for a name the app does not have."""
    assert "Accounts of editors and administrators." in fresh_start["atlas_help"]
    assert fresh_start["deferred"] == []
    assert "Flask-Limiter" in fresh_start["package_command_help"]  # still found, when named


def test_tests_need_a_running_server_and_start_none(monkeypatch, tmp_path):
    for name in ("DATABASE_URL", "TEST_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ATLAS_PGROOT", str(tmp_path / "pg"))
    with pytest.raises(LocalDbError, match=r"python -m app\.localdb start"):
        server_url()
    assert not (tmp_path / "pg").exists()


def test_the_newest_installed_major_is_used_and_a_cluster_keeps_its_own(tmp_path):
    for major in ("15", "17", "13"):
        (tmp_path / major / "bin").mkdir(parents=True)
        (tmp_path / major / "bin" / "initdb").touch()
    (tmp_path / "16" / "bin").mkdir(parents=True)  # no server: a client-only package
    assert installed_majors(tmp_path) == ["13", "15", "17"]
    assert chosen_major(tmp_path) == "17"
    assert debian_packages("17") == ("postgresql-17", "postgresql-17-postgis-3")
    cluster = Cluster(tmp_path / "cluster")
    cluster.data_dir.mkdir(parents=True)
    (cluster.data_dir / "PG_VERSION").write_text("15\n")
    assert cluster.major() == "15"


def test_make_clean_keeps_the_data_and_clean_data_asks():
    clean = subprocess.run(["make", "-n", "clean"], cwd=PROJECT_ROOT, capture_output=True,
                           text=True, check=True).stdout
    assert "rm -rf" in clean and " var" not in clean
    refused = subprocess.run(["make", "-s", "clean-data"], cwd=PROJECT_ROOT, input="n\n",
                             capture_output=True, text=True, check=True).stdout
    assert "Kept var/" in refused
    assert (PROJECT_ROOT / "var").is_dir()
