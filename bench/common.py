"""What the benchmarks share: a throwaway database of their own, migrated, with the demo."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402

from app.localdb import ThrowawayDatabases, server_url  # noqa: E402
from tests.conftest import make_app  # noqa: E402


@contextmanager
def bench_app(label: str) -> Iterator[Flask]:
    """An app on a new database (migrated, demo loaded), dropped at the end."""
    from flask_migrate import upgrade

    from app.demo import load_demo
    from app.extensions import db

    pool = ThrowawayDatabases(server_url())
    try:
        app = make_app(pool.create(label))
        with app.app_context():
            upgrade()
            load_demo()
            yield app
            db.session.remove()
            db.engine.dispose()
    finally:
        pool.drop_all()
