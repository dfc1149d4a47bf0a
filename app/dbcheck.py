"""Tell the user, in plain words, what is wrong with the database and what to do."""

from __future__ import annotations

from typing import Any

import psycopg2
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from .config import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"  # the checkout's, or the installed package's
# SQLSTATEs of a server that is going away or not there yet (operator intervention);
# class 08 is "connection exception". Query cancellation (57014) is not an outage.
OUTAGE_SQLSTATES = ("57P01", "57P02", "57P03")


class DatabaseProblem(RuntimeError):
    """A database issue the user can fix; the message names it and says how."""


def where(url: URL | str) -> str:
    url = make_url(url) if isinstance(url, str) else url
    host = url.host or "the local socket"
    port = f":{url.port}" if url.port else ""
    return f"{host}{port}/{url.database or ''}"


def explain_connection_error(url: URL | str, exc: Exception) -> DatabaseProblem:
    detail = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else ""
    return DatabaseProblem(
        f"Cannot connect to PostgreSQL at {where(url)} (from DATABASE_URL): {detail}. "
        "Check that the server is running and that DATABASE_URL is right "
        "(postgresql://user:password@host:port/database), or unset DATABASE_URL to let "
        "Atlas start its own local PostgreSQL under var/.")


def is_outage(exc: BaseException | None) -> bool:
    """Whether `exc` says the database is unreachable, rather than that a query is wrong."""
    if isinstance(exc, sa_exc.TimeoutError):  # no connection free in the pool: overloaded
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig
    if isinstance(exc, psycopg2.InterfaceError):  # "connection already closed"
        return True
    if isinstance(exc, psycopg2.OperationalError):
        code = exc.pgcode
        return code is None or code.startswith("08") or code in OUTAGE_SQLSTATES
    return False


def require_postgis(conn: Connection) -> str:
    """The installed PostGIS version; a clear DatabaseProblem when there is none."""
    installed = conn.execute(
        text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")).scalar()
    if installed:
        return str(installed)
    available = conn.execute(text(
        "SELECT default_version FROM pg_available_extensions WHERE name = 'postgis'")).scalar()
    url = conn.engine.url
    if available is None:
        raise DatabaseProblem(
            f"The PostgreSQL server at {where(url)} has no PostGIS. Install it on the server "
            "(Debian: apt-get install postgresql-<major>-postgis-3, <major> being 15 on Debian "
            "12, 17 on Debian 13) or point DATABASE_URL to a server with PostGIS.")
    raise DatabaseProblem(
        f"PostGIS {available} is installed on the server at {where(url)} but not enabled in "
        "this database: run `flask db upgrade` as a role allowed to CREATE EXTENSION, or "
        "have an administrator run CREATE EXTENSION postgis.")


def can_create_postgis(conn: Connection) -> None:
    """Before the first migration: fail clearly when PostGIS cannot be had."""
    if conn.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).scalar():
        return
    available = conn.execute(text(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")).scalar()
    if not available:
        raise DatabaseProblem(
            f"The PostgreSQL server at {where(conn.engine.url)} has no PostGIS. Install it on "
            "the server (Debian: apt-get install postgresql-<major>-postgis-3, <major> being 15 "
            "on Debian 12, 17 on Debian 13) or point DATABASE_URL to a server with PostGIS.")


def migration_head() -> str | None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def status(engine: Engine) -> dict[str, Any]:
    """Versions of the server, PostGIS and the schema; raises DatabaseProblem."""
    try:
        with engine.connect() as conn:
            server = conn.execute(text("SHOW server_version")).scalar()
            postgis = require_postgis(conn)
            full = conn.execute(text("SELECT postgis_lib_version()")).scalar()
            try:
                current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except ProgrammingError:
                current = None
    except OperationalError as exc:
        raise explain_connection_error(engine.url, exc) from exc
    head = migration_head()
    return {
        "server_version": server,
        "postgis_version": postgis,
        "postgis_lib_version": full,
        "migration": {"current": current, "head": head, "up_to_date": current == head},
    }
