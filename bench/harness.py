"""What the benchmark and the screenshot script share: a throwaway database on the
project's PostgreSQL, the app on a loopback HTTP server, and headless Chromium."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator

import psycopg2
from flask import Flask
from playwright.sync_api import Route
from sqlalchemy.engine import make_url

from app import create_app
from app.config import to_sqlalchemy_url

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def server_url() -> str:
    import os

    from app.localdb import local_database_url

    return os.environ.get("DATABASE_URL") or local_database_url()


def _libpq(url: str, database: str) -> str:
    return make_url(to_sqlalchemy_url(url)).set(
        drivername="postgresql", database=database).render_as_string(hide_password=False)


@contextlib.contextmanager
def throwaway_database(label: str) -> Iterator[str]:
    """A new database on the server (dropped on exit); yields its libpq URL."""
    server = server_url()
    name = f"atlas_{label}_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(_libpq(server, "postgres"))
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        yield _libpq(server, name)
    finally:
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


def make_app(url: str, **config: object) -> Flask:
    return create_app({"SQLALCHEMY_DATABASE_URI": to_sqlalchemy_url(url),
                       "SECRET_KEY": "bench", **config})


def migrate(app: Flask, demo: bool = False) -> None:
    from flask_migrate import upgrade

    from app.demo import load_demo
    from app.extensions import db

    with app.app_context():
        upgrade()
        if demo:
            load_demo()
        db.engine.dispose()


@contextlib.contextmanager
def serve(app: Flask) -> Iterator[str]:
    """The app on a threaded werkzeug server on 127.0.0.1; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def loopback_only(route: Route) -> None:
    """Let requests to this machine through and refuse the rest (tiles included)."""
    host = route.request.url.split("/")[2].split(":")[0]
    if host in ("127.0.0.1", "localhost"):
        route.continue_()
    else:
        route.abort("internetdisconnected")
