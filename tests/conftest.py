"""Fixtures: throwaway PostGIS databases, copied from templates migrated and loaded once.

The server is TEST_DATABASE_URL's or DATABASE_URL's when set (a role that may
CREATE DATABASE), else the project's own local cluster under var/ (started if
needed): see app.localdb.server_url. Each test session creates its own databases
and drops them at its module's end, or the session's. Migrating and loading the demo
takes seconds; copying a database that has it takes a fraction of one, so tests get
copies of templates (`databases.demo()`, `databases.migrated()`) built once and kept in the cluster
between runs, under a name that hashes what they are built from (TEMPLATE_SOURCES):
a warm checkout builds nothing, a changed migration or demo file builds anew.

Under pytest-xdist (`make test` runs two workers), each worker without
TEST_DATABASE_URL or DATABASE_URL has a cluster of its own, pg-gw0… in memory
(/dev/shm) or under var/ (tests/support/cluster.py says why and where), with its own
templates. A test module's databases are dropped when it ends.
"""

from __future__ import annotations

import functools
import inspect
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from jinja2.bccache import Bucket, BytecodeCache
from sqlalchemy.orm import scoped_session, sessionmaker

from app import create_app
from app.config import PROJECT_ROOT, to_sqlalchemy_url
from app.extensions import db, limiter
from app.localdb import ThrowawayDatabases, fingerprint, libpq_url, server_url  # noqa: F401 (re-exported)
from tests.support.editor import ACCOUNTS, PASSWORD
from tests.support.serving import serving

# What a template is built from: a change to any of these builds a new one. The whole
# app, since migrations and the demo load import from it (app.normalise, app.formats).
TEMPLATE_SOURCES = [PROJECT_ROOT / p for p in ("migrations", "app", "data/demo",
                                                "data/communes")]


class SharedTemplateCode(BytecodeCache):
    """Compiled templates kept for every app of the process: each app has its own Jinja
    environment and compiled each template it rendered again (0.75 s of CPU for all of
    them). The key holds the template's name and file, the bucket a checksum of its
    source; every app make_app makes configures Jinja alike."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CODE = SharedTemplateCode()


@functools.cache
def template_key(extra: str) -> str:
    """fingerprint(*TEMPLATE_SOURCES, extra=extra), read once a run (the sources do not
    change during one; reading and hashing them took 13 ms a database copy)."""
    return fingerprint(*TEMPLATE_SOURCES, extra=extra)


def make_app(url: str) -> Flask:
    # Passwords hashed at argon2's least cost: the suite logs in hundreds of times
    # (app/services/users.py; test_auth checks that a real app hashes at the standard cost).
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": to_sqlalchemy_url(url),
                      "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": True,
                      "PASSWORD_HASHING": "minimal"})
    app.jinja_env.bytecode_cache = TEMPLATE_CODE
    return app


def _migrate(url: str, revision: str = "head") -> None:
    from flask_migrate import upgrade

    with make_app(url).app_context():
        upgrade(revision=revision)
        db.engine.dispose()


def migrate_and_load_demo(url: str) -> None:
    from flask_migrate import upgrade

    from app.demo import load_demo

    with make_app(url).app_context():
        upgrade()
        load_demo()
        db.session.remove()
        db.engine.dispose()


class DemoDatabases(ThrowawayDatabases):
    """Throwaway databases, plus ready copies of the migrated and the demo templates."""

    def __init__(self) -> None:
        super().__init__()
        self.kept: set[str] = set()  # the session's own: not dropped with a module's

    def drop_made_since(self, mark: int) -> None:
        """Drop the databases made since there were `mark` of them, but the kept ones."""
        self.drop([name for name in self.created[mark:] if name not in self.kept])

    def from_template(self, label: str, template: str, build: Callable[[str], None],
                      extra: str = "") -> str:
        """A new database copied from the template `build(url)` makes, built once and kept
        in the cluster under a key of the build's source, `extra` and TEMPLATE_SOURCES."""
        key = template_key(inspect.getsource(build) + extra)
        return self.create(label, template=self.template(template, key, build))

    def _created(self, cur, name: str) -> None:
        """A new database whose commits do not wait for the disk (it is dropped at the
        end anyway): what every session sees is the same, only crash safety is lost."""
        cur.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')

    def migrated(self, label: str = "test") -> str:
        """A new database migrated to head, with no entries; returns its libpq URL."""
        return self.from_template(label, "migrated", _migrate)

    def at_revision(self, revision: str, label: str = "test") -> str:
        """A new database migrated up to `revision` only, with no entries: where a test of
        a later migration starts (the earlier ones then cost nothing on a warm checkout)."""
        return self.from_template(label, f"rev{revision}",
                          lambda url: _migrate(url, revision), extra=revision)

    def demo(self, label: str = "test") -> str:
        """A new database migrated to head and loaded with the Lille demo data."""
        return self.from_template(label, "demo", migrate_and_load_demo)


# The files that take longest (seconds of a run on two cores, most first): sent to the
# workers first, so that the two end together (longest processing time first) instead
# of one waiting while the other runs a long file it took last. Every other file keeps
# its place after them. A file missing here only runs later; a wrong order only costs time.
# `make test` passes --no-loadscope-reorder, or pytest-xdist would reorder by test count.
LONGEST_FIRST = (
    "tests/integration/test_editor_browser.py",
    "tests/integration/test_browser.py",
    "tests/integration/test_schemathesis.py",
    "tests/integration/test_sync_push.py",
    "tests/integration/test_sync_overlap.py",
    "tests/integration/test_phone_routes.py",
    "tests/unit/test_jobs.py",
    "tests/unit/test_map_pyramid.py",
    "tests/unit/test_import_csv.py",
    "tests/unit/test_api_form_agreement.py",
    "tests/unit/test_access_policy.py",
    "tests/unit/test_input_guard.py",
    "tests/integration/test_production.py",
    "tests/integration/test_sheet_live_browser.py",
    "tests/integration/test_sync_batch.py",
    "tests/integration/test_citizens_browser.py",
    "tests/integration/test_sync_pull.py",
    "tests/unit/test_import_process.py",
    "tests/integration/test_database_outage.py",
    "tests/unit/test_map_cells.py",
    "tests/unit/test_data_state.py",
    "tests/unit/test_import_limits.py",
    "tests/integration/test_import_kill.py",
    "tests/integration/test_sync_identity.py",
    "tests/unit/test_layers.py",
    "tests/unit/test_exports.py",
    "tests/unit/test_secret_key.py",
    "tests/unit/test_mail.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: n for n, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable


@pytest.fixture(scope="session", autouse=True)
def _server_of_this_worker() -> Iterator[None]:
    """A pytest-xdist worker's own cluster, started for the run (and stopped after) and
    named by TEST_DATABASE_URL for all the worker does, when no server is set."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker or os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL"):
        yield
        return
    from tests.support.cluster import start_worker_cluster

    cluster, url = start_worker_cluster(worker)
    os.environ["TEST_DATABASE_URL"] = url
    try:
        yield
    finally:
        del os.environ["TEST_DATABASE_URL"]
        cluster.stop()


# The session's DemoDatabases once made: a module's databases are dropped at its end.
_SESSION_DATABASES: list[DemoDatabases] = []


@pytest.fixture(scope="session")
def databases() -> Iterator[DemoDatabases]:
    with DemoDatabases() as pool:
        _SESSION_DATABASES.append(pool)
        try:
            yield pool
        finally:
            _SESSION_DATABASES.remove(pool)


@pytest.fixture(scope="module", autouse=True)
def _databases_of_the_module() -> Iterator[None]:
    """The databases a test module made (its copies) are dropped when it ends, but the
    session's: a run makes about 180, ~3 GB kept until its end otherwise, in memory where
    the test clusters are on tmpfs (tests/support/cluster.py), else written to the disk.
    Set up before the module's own fixtures, so torn down after them."""
    mark = len(_SESSION_DATABASES[-1].created) if _SESSION_DATABASES else 0
    yield
    if _SESSION_DATABASES:  # the last made: a session run inside a test (pytester) has its own
        _SESSION_DATABASES[-1].drop_made_since(mark)


@pytest.fixture(scope="session")
def database_url(databases: DemoDatabases) -> str:
    """The session's database, migrated to head and loaded with the Lille demo data."""
    url = databases.demo("session")
    databases.kept.add(databases.created[-1])
    return url


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """No test inherits the login or suggestion counts of the one before."""
    if limiter.initialized:
        limiter.reset()


@pytest.fixture(scope="session")
def app(database_url: str) -> Flask:
    return make_app(database_url)


@pytest.fixture
def session(app: Flask) -> Iterator:
    """A session whose every commit is undone after the test: tests never see each other."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        # A plain Session: Flask-SQLAlchemy's own picks its engine and would ignore `bind`.
        scoped = scoped_session(sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint"))
        saved, db.session = db.session, scoped
        try:
            yield scoped
        finally:
            scoped.remove()
            db.session = saved
            outer.rollback()
            connection.close()


def raw_connection(app: Flask):
    """A psycopg2 connection of its own to `app`'s database, outside SQLAlchemy."""
    import psycopg2

    return psycopg2.connect(app.config["SQLALCHEMY_DATABASE_URI"].replace("+psycopg2", ""))


@pytest.fixture
def sql(app: Flask) -> Iterator[Callable[..., None]]:
    """Run statements in their own committed transactions, as another writer would."""
    conn = raw_connection(app)

    def run(statement: str, *params: Any) -> None:
        with conn.cursor() as cur:
            cur.execute(statement, params)
        conn.commit()

    yield run
    conn.close()


@pytest.fixture
def client(app: Flask, session):
    return app.test_client()


class LiveServer:
    """The application on a real HTTP server (werkzeug, threaded) on a loopback port."""

    def __init__(self, app: Flask) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=serving(self.server), daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


class OneOrigin:
    """The WSGI app of the browser tests' one server: it hands each request to the app a
    module serves now (`serve`). Every browser test of a run then has the same origin,
    so the open tabs (`tabs`), whose contexts are made with a base URL, go from module to
    module instead of each module opening its own (a renderer process each, 0.5 s of CPU)."""

    def __init__(self) -> None:
        self.app: Flask | None = None
        self.url = ""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        app = self.app
        if app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"no application served now"]
        return app(environ, start_response)

    @contextmanager
    def serve(self, app: Flask) -> Iterator[SimpleNamespace]:
        """Serve `app` at `self.url` until the block ends; yields its `url` and `app`
        (a module adds what else its tests read)."""
        assert self.app is None, "another module's app is served"
        self.app = app
        try:
            yield SimpleNamespace(url=self.url, app=app)
        finally:
            self.app = None


@pytest.fixture(scope="session")
def browser_origin() -> Iterator[OneOrigin]:
    """The one server of the browser tests (OneOrigin); a module serves its app on it:
    `with browser_origin.serve(app) as server:`."""
    origin = OneOrigin()
    with LiveServer(origin) as live:  # type: ignore[arg-type]
        origin.url = live.url
        yield origin


@pytest.fixture(scope="session")
def live_server(app: Flask) -> Iterator[LiveServer]:
    """The demo database served over HTTP, for clients no one here wrote (browsers, GDAL).

    What tests write through it is committed: a test that writes should serve its
    own database (`databases.create()` + `make_app()` + `LiveServer`) instead.
    """
    with LiveServer(app) as server:
        yield server


@pytest.fixture(scope="session")
def own_cluster():
    """A PostgreSQL cluster for this session only, that tests stop and start
    (tests/support/cluster.py); made once, removed at the end."""
    from tests.support.cluster import ThrowawayCluster

    cluster = ThrowawayCluster()
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="session")
def password_hash() -> str:
    """The hash of tests.support.editor.PASSWORD, made once, at the test apps' cost."""
    from app.services.users import hash_password

    bare = Flask(__name__)
    bare.config["PASSWORD_HASHING"] = "minimal"
    with bare.app_context():
        return hash_password(PASSWORD)


@pytest.fixture
def accounts(session, password_hash: str) -> dict[str, Any]:
    """One account per role (tests.support.editor.ACCOUNTS), in the test's rolled-back
    session. Users are added as create_user would (its checks are tested on their own),
    with the session's hash of their common password."""
    from app.models import User

    users = {}
    for role, account in ACCOUNTS.items():
        assert account.password == PASSWORD
        users[role] = User(email=account.email, name=role.title(), role=account.role,
                           password_hash=password_hash)
        session.add(users[role])
    session.commit()
    return users


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole run; tests open their pages in it
    (tests.browser_support.page_maker), in contexts that share no cookies or storage
    with another test's (reset between tests when kept open: `tabs`)."""
    from tests.browser_support import launched_chromium

    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="session")
def tabs(browser):
    """The run's open pages, handed from test to test once reset (tests.browser_support.
    Tabs): no new renderer process per test, nor per module (all serve on one origin:
    `browser_origin`)."""
    from tests.browser_support import Tabs

    pool = Tabs(browser)
    try:
        yield pool
    finally:
        pool.close()
