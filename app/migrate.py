"""Flask-Migrate, and Alembic under it, imported when a migration runs, not at every start.

Importing them costs every process an eighth of a second of CPU (Alembic brings Mako and
Pygments), while a gunicorn worker, a timer's job or `atlas users list` never migrates.
The `db` command group and `app.extensions["migrate"]` stand in for Flask-Migrate's own
until first used: `atlas db …` and flask_migrate's functions (`upgrade()` in the tests
and benchmarks) then find what `Migrate(app, db)` sets up, made at that moment.
"""

from __future__ import annotations

import weakref
from typing import Any

import click
from flask import Flask

DB_GROUP_HELP = "Perform database migrations."  # flask_migrate.cli.db's own (tested)


def init_migrate(app: Flask, directory: str) -> None:
    """What `Migrate(app, db, directory=…)` does, deferred to the first use."""
    app.extensions["migrate"] = _DeferredMigrate(app, directory)
    app.cli.add_command(_DbGroup("db", help=DB_GROUP_HELP))


def _load(app: Flask, directory: str) -> Any:
    """Flask-Migrate set up on `app`: it replaces both stand-ins with its own."""
    from flask_migrate import Migrate

    from .extensions import db

    Migrate(app, db, directory=directory)
    return app.extensions["migrate"]


class _DeferredMigrate:
    """app.extensions["migrate"] until an attribute is read (by flask_migrate or
    migrations/env.py): then Flask-Migrate's own, made now, answers."""

    def __init__(self, app: Flask, directory: str) -> None:
        self._app = weakref.ref(app)  # the app holds this object: no cycle
        self._directory = directory

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        app = self._app()
        if app is None:
            raise RuntimeError("the app of this migration extension is gone")
        current = app.extensions["migrate"]
        real = _load(app, self._directory) if current is self else current
        return getattr(real, name)


class _DbGroup(click.Group):
    """`flask db`, listed with its help; Flask-Migrate's group parses and runs it."""

    def make_context(self, info_name: str | None, args: list[str],
                     parent: click.Context | None = None, **extra: Any) -> click.Context:
        from flask_migrate.cli import db as real

        return real.make_context(info_name, args, parent=parent, **extra)
