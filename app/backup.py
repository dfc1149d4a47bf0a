"""`flask backup create|restore`: the whole database, with pg_dump and pg_restore.

The data package (`flask export datapackage`) holds only what is public; a backup
holds everything: accounts, API token hashes, proposals, drafts, pending and deleted
entries, revisions, import runs. It is `pg_dump --format=custom` of the database the
app uses (DATABASE_URL, or the local cluster), run with the binaries of the server's
own major version (/usr/lib/postgresql/<major>/bin when present, else ATLAS_PG_BINDIR
or the PATH), so that the dump is complete and pg_restore can read it. The password
goes to the child through PGPASSWORD, never on its command line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from .dbcheck import DatabaseProblem, explain_connection_error, where

backup_cli = AppGroup("backup", help="Whole-database backups (pg_dump / pg_restore).")

# libpq settings a URL's query may carry, passed on as PG* variables.
QUERY_ENV = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT",
             "sslkey": "PGSSLKEY", "connect_timeout": "PGCONNECT_TIMEOUT",
             "application_name": "PGAPPNAME", "options": "PGOPTIONS"}
# Tables, views and sequences that make a database "not empty" (extensions' own excluded).
USER_RELATIONS_SQL = text("""
SELECT n.nspname || '.' || c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                    AND d.deptype = 'e')
ORDER BY 1
""")


class BackupError(click.ClickException):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Target:
    """A database: where it is (for messages), and how a libpq program reaches it."""

    url: URL

    @property
    def label(self) -> str:
        return where(self.url)

    def environment(self) -> dict[str, str]:
        """PG* variables for pg_dump/pg_restore: the password never leaves the env. What
        the URL says wins; other PG* settings of the environment (PGPASSFILE, PGSSLMODE…)
        are kept."""
        env = dict(os.environ)
        values = {"PGHOST": self.url.host, "PGPORT": self.url.port,
                  "PGUSER": self.url.username, "PGPASSWORD": self.url.password,
                  "PGDATABASE": self.url.database}
        for key, name in QUERY_ENV.items():
            if key in self.url.query:
                value = self.url.query[key]
                values[name] = value if isinstance(value, str) else value[-1]
        if "host" in self.url.query and not self.url.host:  # a socket directory
            host = self.url.query["host"]
            values["PGHOST"] = host if isinstance(host, str) else host[-1]
        env.update({k: str(v) for k, v in values.items() if v not in (None, "")})
        return env

    def connect(self):
        """A short-lived engine connection; a wrong URL gives a DatabaseProblem."""
        engine = create_engine(self.url.set(drivername="postgresql+psycopg2"),
                               poolclass=NullPool)
        try:
            return engine, engine.connect()
        except OperationalError as exc:
            engine.dispose()
            raise explain_connection_error(self.url, exc) from None

    def server_major(self) -> int:
        engine, conn = self.connect()
        try:
            return int(conn.execute(text("SHOW server_version_num")).scalar()) // 10000
        finally:
            conn.close()
            engine.dispose()

    def relations(self) -> list[str]:
        """Our tables, views and sequences: empty for a database fit for a restore."""
        engine, conn = self.connect()
        try:
            return list(conn.execute(USER_RELATIONS_SQL).scalars())
        finally:
            conn.close()
            engine.dispose()


def app_target() -> Target:
    return Target(make_url(current_app.config["SQLALCHEMY_DATABASE_URI"]))


def find_binary(name: str, major: int) -> Path:
    """pg_dump or pg_restore of the server's major version; a clear error when missing."""
    candidates = []
    configured = current_app.config.get("PG_BINDIR")
    if configured:
        candidates.append(Path(configured) / name)
    else:
        candidates.append(Path(f"/usr/lib/postgresql/{major}/bin") / name)
        found = shutil.which(name)
        if found:
            candidates.append(Path(found))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            version = _major_of(path)
            if version is not None and version >= major:
                return path
    where_ = configured or f"/usr/lib/postgresql/{major}/bin or the PATH"
    raise BackupError(
        f"No {name} of PostgreSQL {major} or later in {where_}. Install the server's client "
        f"programs (Debian: apt-get install postgresql-client-{major}) or set ATLAS_PG_BINDIR "
        "to the directory that holds them.")


def _major_of(path: Path) -> int | None:
    """The major version `path --version` prints ("pg_dump (PostgreSQL) 15.6" -> 15)."""
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True,
                             timeout=30, check=False).stdout
    except OSError:
        return None
    words = out.split()
    try:
        return int(words[-1].split(".")[0]) if words else None
    except ValueError:
        return None


def _run(args: list[str], target: Target, what: str) -> None:
    result = subprocess.run(args, env=target.environment(), capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip()
        raise BackupError(f"{what} of {target.label} failed (exit {result.returncode}):\n"
                          f"{detail}")


def backup_name(target: Target) -> str:
    """atlas-<database>-<UTC time>.dump: names sort by time (app/jobs/rotation.py)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"atlas-{target.url.database}-{stamp}.dump"


def default_output(target: Target) -> Path:
    folder = current_app.config.get("BACKUP_DIR")
    if not folder:
        raise BackupError("No backup folder: give --output, or set ATLAS_BACKUP_DIR "
                          "(or ATLAS_STATE_DIR, whose backups/ is used).")
    return Path(folder) / backup_name(target)


def create_backup(output: Path | None = None, target: Target | None = None) -> Path:
    """pg_dump --format=custom of the whole database into `output` (written whole, or not
    at all: the dump goes to a temporary file renamed at the end)."""
    target = target or app_target()
    major = _checked(target.server_major)
    pg_dump = find_binary("pg_dump", major)
    output = output or default_output(target)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    try:
        _run([str(pg_dump), "--format=custom", "--file", str(partial)], target, "pg_dump")
        partial.chmod(0o600)  # it holds password and token hashes
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return output


def restore_backup(path: Path, *, force: bool = False, target: Target | None = None) -> None:
    """pg_restore of `path` into the database, in one transaction.

    An empty database is required unless `force`: then the objects the backup holds
    are dropped and recreated (`--clean --if-exists`), whatever they held.
    """
    target = target or app_target()
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    major = _checked(target.server_major)
    pg_restore = find_binary("pg_restore", major)
    listed = subprocess.run([str(pg_restore), "--list", str(path)], capture_output=True,
                            text=True, check=False)
    if listed.returncode != 0:
        raise BackupError(f"{path} is not a backup of `flask backup create` (pg_restore "
                          f"--list: {listed.stderr.strip()})")
    present = _checked(target.relations)
    if present and not force:
        shown = ", ".join(present[:5]) + (", …" if len(present) > 5 else "")
        raise BackupError(
            f"The database {target.label} is not empty ({len(present)} tables, views or "
            f"sequences: {shown}). Restore into a new empty database (createdb, then "
            "DATABASE_URL), or give --force to replace what the backup holds.")
    args = [str(pg_restore), "--dbname", target.url.database or "", "--single-transaction",
            "--exit-on-error", "--no-owner", "--no-privileges"]
    if present:
        args += ["--clean", "--if-exists"]
    _run([*args, str(path)], target, "pg_restore")


def _checked(action):
    try:
        return action()
    except DatabaseProblem as exc:
        raise BackupError(str(exc)) from None


def _human(size: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


@backup_cli.command("create")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="The backup file (default: atlas-<database>-<UTC time>.dump in "
                   "ATLAS_BACKUP_DIR, var/backups in a checkout).")
def backup_create(output: Path | None) -> None:
    """Back up the whole database (pg_dump --format=custom): accounts, tokens,
    proposals, drafts, pending and deleted entries, revisions, everything."""
    from .extensions import db

    db.session.remove()
    written = create_backup(output)
    click.echo(f"Backup of {app_target().label} written to {written} "
               f"({_human(written.stat().st_size)}).")


@backup_cli.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--into-empty-database/--force", "empty_only", default=True,
              help="Refuse a database that holds tables (the default), or replace what "
                   "the backup holds in it (--force).")
def backup_restore(path: Path, empty_only: bool) -> None:
    """Restore a backup of `flask backup create` into the app's database (DATABASE_URL)."""
    from .dbcheck import status
    from .extensions import db

    db.session.remove()
    db.engine.dispose()  # pg_restore --clean must not wait on our idle connections
    restore_backup(path, force=not empty_only)
    click.echo(f"Restored {path} into {app_target().label}.")
    try:
        migration = status(db.engine)["migration"]
    except DatabaseProblem as exc:
        raise BackupError(f"Restored, but the database check failed: {exc}") from None
    if migration["up_to_date"]:
        click.echo(f"Schema up to date (migration {migration['current']}).")
    else:
        click.echo(f"The backup's schema is at migration {migration['current']}, this code "
                   f"expects {migration['head']}: run `flask db upgrade`.", err=True)
