"""Helpers of the open-data tests: a database of one's own with the demo data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask

from tests.conftest import make_app


def fresh_app(databases, label: str) -> Flask:
    """An app on a new copy of the demo database, for tests that commit writes."""
    return make_app(databases.demo(label))


def comparable(record: dict[str, Any]) -> dict[str, Any]:
    """A public record with its times as datetimes (SQL and Python print them differently)."""
    out = dict(record)
    for name in ("created_at", "updated_at"):
        out[name] = datetime.fromisoformat(out[name])
    out["tags"] = list(out["tags"])
    return out
