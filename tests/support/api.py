"""Fixtures of the open-data tests: a database of one's own, migrated and loaded with the demo."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask

from app.extensions import db
from tests.conftest import make_app


def fresh_app(databases, label: str) -> Flask:
    """An app on a new database with the demo data, for tests that commit writes."""
    app = make_app(databases.create(label))
    with app.app_context():
        from flask_migrate import upgrade

        from app.demo import load_demo

        upgrade()
        load_demo()
        db.session.remove()
    return app


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    """A public record with its times as datetimes (SQL and Python print them differently)."""
    out = dict(record)
    for name in ("created_at", "updated_at"):
        out[name] = datetime.fromisoformat(out[name])
    out["tags"] = list(out["tags"])
    return out
