"""Fixtures: a throwaway PostGIS database, migrated and loaded with the demo data.

The server is TEST_DATABASE_URL's or DATABASE_URL's when set (a role that may
CREATE DATABASE), else the project's own local cluster under var/ (started if
needed): see app.localdb.server_url. Each test session creates its own database
and drops it at the end.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy.orm import scoped_session, sessionmaker

from app import create_app
from app.config import to_sqlalchemy_url
from app.extensions import db
from app.localdb import ThrowawayDatabases, libpq_url, server_url  # noqa: F401 (re-exported)


@pytest.fixture(scope="session")
def databases() -> Iterator[ThrowawayDatabases]:
    with ThrowawayDatabases() as pool:
        yield pool


def make_app(url: str) -> Flask:
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": to_sqlalchemy_url(url),
                       "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": True})


@pytest.fixture(scope="session")
def database_url(databases: ThrowawayDatabases) -> str:
    """The session's database, migrated to head and loaded with the Lille demo data."""
    url = databases.create()
    app = make_app(url)
    with app.app_context():
        from flask_migrate import upgrade

        from app.demo import load_demo

        upgrade()
        load_demo()
        db.engine.dispose()
    return url


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
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


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
    (tests/cluster_fixtures.py); made once, removed at the end."""
    from tests.cluster_fixtures import ThrowawayCluster

    cluster = ThrowawayCluster()
    try:
        yield cluster
    finally:
        cluster.close()
