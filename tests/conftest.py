"""Fixtures: a throwaway PostGIS database, migrated and loaded with the demo data.

The server is TEST_DATABASE_URL's or DATABASE_URL's when set (a role that may
CREATE DATABASE), else the project's own local cluster under var/ (started if
needed). Each test session creates its own database and drops it at the end.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator

import psycopg2
import pytest
from flask import Flask
from sqlalchemy.engine import make_url
from sqlalchemy.orm import scoped_session, sessionmaker

from app import create_app
from app.config import to_sqlalchemy_url
from app.extensions import db


def server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        return url
    from app.localdb import local_database_url

    return local_database_url()


def libpq(url: str, database: str) -> str:
    """A libpq URL (for psycopg2 and psql) to `database` on the server of `url`."""
    return make_url(to_sqlalchemy_url(url)).set(
        drivername="postgresql", database=database).render_as_string(hide_password=False)


class ThrowawayDatabases:
    """Creates databases on the test server and drops them all at the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.created: list[str] = []

    def _admin(self):
        conn = psycopg2.connect(libpq(self.url, "postgres"))
        conn.autocommit = True
        return conn

    def create(self, label: str = "test") -> str:
        name = f"atlas_{label}_{uuid.uuid4().hex[:10]}"
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        self.created.append(name)
        return libpq(self.url, name)

    def drop_all(self) -> None:
        conn = self._admin()
        with conn.cursor() as cur:
            for name in self.created:
                cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
                cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.close()


@pytest.fixture(scope="session")
def databases() -> Iterator[ThrowawayDatabases]:
    pool = ThrowawayDatabases(server_url())
    yield pool
    pool.drop_all()


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
