"""What the benchmark and the screenshot script share: a throwaway database on the
project's PostgreSQL, the app on a loopback HTTP server, and headless Chromium."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

from flask import Flask

from app import create_app
from app.config import to_sqlalchemy_url
from app.localdb import ThrowawayDatabases
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS  # noqa: F401


@contextlib.contextmanager
def throwaway_database(label: str) -> Iterator[str]:
    """A new database on the project's server (dropped on exit); yields its libpq URL."""
    with ThrowawayDatabases() as pool:
        yield pool.create(label)


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


def wait_for_port(port: int, process: subprocess.Popen, what: str, timeout: float = 60) -> None:
    """Until `process` (a server started by a benchmark) accepts connections on `port`;
    a clear error when it exits or takes longer than `timeout` seconds."""
    deadline = time.time() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{what} exited with {process.returncode}") from None
            if time.time() > deadline:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.2)
