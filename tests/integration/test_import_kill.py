"""`kill -9` of `flask import csv` while its reading process runs: the reading process
dies with it, no session is left idle in transaction (the server ends one after
ATLAS_IMPORT_IDLE_TIMEOUT), the change feed moves on, and running the import again
imports every row exactly once.

The killed run updates every row of an earlier import while the test holds a lock on
those entries: its writer waits on its first update, so the reader's queue is full
when the command dies (the case where the reading process used to stay, blocked, with
the command's database socket), however fast either side is."""

from __future__ import annotations

import csv
import json
import os
import signal
import time
import urllib.request
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from app.extensions import db
from app.models import Entry, ImportRun, Source
from app.services.entries import create_entry
from app.services.revisions import Author
from importers.mapping import load_csv_mapping
from importers.reader_process import prepared_in_child
from importers.sources import CsvFile
from tests.conftest import LiveServer, make_app
from tests.support.importer import HEADER, MAPPING, grid_rows
from tests.support.processes import Forked, child_pids, flask, is_running

# Eight batches of 25: the writer holds the first, the queue of two the next two, and the
# reader waits to hand over the fourth.
ROWS = 200
BATCH = 25
IDLE_TIMEOUT = 2
ORIGIN = "csv:tiers-lieux-test"


def _feed(url: str, cursor: str | None) -> dict:
    query = f"?limit=500&since={cursor}" if cursor else "?limit=500"
    with urllib.request.urlopen(f"{url}/api/v1/changes{query}", timeout=30) as response:
        return json.load(response)


def _drain(url: str, cursor: str | None = None) -> tuple[list[dict], str]:
    changes: list[dict] = []
    while True:
        body = _feed(url, cursor)
        changes += body["changes"]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return changes, cursor


def _idle_in_transaction(app) -> int:
    with app.app_context():
        try:
            return db.session.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"))
        finally:
            db.session.remove()


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _waiting(pid: int) -> bool:
    """Whether `pid` used no CPU for half a second."""
    before = _cpu_ticks(pid)
    time.sleep(0.5)
    return _cpu_ticks(pid) == before


def _until(check, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


@pytest.fixture(scope="module")
def first_import(databases, tmp_path_factory) -> tuple[str, list[list[str]]]:
    """A demo database with ROWS imported by the command, made once for the module: each
    test works on a copy of it (the name of the database, the rows)."""
    url = databases.demo("import_kill_first")
    rows = list(grid_rows(ROWS, "k"))
    path = _write(tmp_path_factory.mktemp("first") / "first.csv", rows)
    first = flask("import", "csv", str(path), "--mapping", str(MAPPING), url=url)
    assert first.returncode == 0, first.stderr
    return make_url(url).database, rows


def _prepared(databases, first_import, name: str, tmp_path: Path):
    """A database of its own with ROWS imported; the `flask` arguments of the command that
    updates them all."""
    template, rows = first_import
    url = databases.create(name, template=template)
    app = make_app(url)
    env = {"DATABASE_URL": url, "ATLAS_IMPORT_IDLE_TIMEOUT": str(IDLE_TIMEOUT)}
    rows = [[*row[:3], f"bis {row[3]}", *row[4:]] for row in rows]  # every row an update
    path = _write(tmp_path / "changed.csv", rows)
    command = ["import", "csv", str(path), "--mapping", str(MAPPING), "--batch-size",
               str(BATCH)]
    return app, env, command


class EntriesLocked:
    """The entries of the earlier import locked (FOR UPDATE: reads go on) from a
    connection of the test's own, until release()."""

    def __init__(self, url: str) -> None:
        self.connection = psycopg2.connect(url)
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM entries e JOIN sources s ON s.entry_id = e.id "
                           "WHERE s.origin = %s FOR UPDATE OF e", (ORIGIN,))
            assert cursor.rowcount == ROWS

    def waiting(self) -> int:
        """Sessions waiting on a lock in this database (the import's writer)."""
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                           "'Lock' AND datname = current_database()")
            return cursor.fetchone()[0]

    def release(self) -> None:
        if not self.connection.closed:
            self.connection.rollback()
            self.connection.close()


def _started(command: list[str], env: dict[str, str]) -> tuple[Forked, set[int]]:
    """The command started, once its reading process waits on its full queue (its CPU
    time stands still: the writer waits on the test's lock).

    The command is a process of its own, the leader of its process group, running
    Flask's command line: a fork of this one (tests.support.processes.Forked), which
    pays no Python start. Like the command run from a shell, it runs one thread, so it
    forks its reading process too."""
    parent = Forked(*command, "--reader", "process", url=env["DATABASE_URL"], env=env,
                    new_session=True)
    children: set[int] = set()
    assert _until(lambda: bool(children.update(child_pids(parent.pid)) or children)
                  or parent.poll() is not None, 60)
    assert children, "the reading process never started"
    assert _until(lambda: all(_waiting(pid) for pid in children), 60)
    assert parent.poll() is None, "the import ended before it could be stopped"
    return parent, children


def _feed_moves_on(app, url: str, cursor: str) -> None:
    """A write made now shows in the change feed within the idle timeout and a bit."""
    with app.app_context():
        try:
            entry = create_entry({"kind": "commons", "name": "Écrit pendant l'import"},
                                 author=Author(label="kill-test"))
            written = str(entry.id)
        finally:
            db.session.remove()

    def seen() -> bool:
        nonlocal cursor
        changes, cursor = _drain(url, cursor)
        return written in {c["id"] for c in changes}

    assert _until(seen, IDLE_TIMEOUT + 5), "the change feed did not move on"


def _imported_once(app, command: list[str], env: dict[str, str]) -> None:
    """Run again: every row updated exactly once, none twice, none missing."""
    # The plain run again, in a fork (tests.support.processes.flask): no Python start.
    again = flask(*command, url=env["DATABASE_URL"], env=env)
    assert again.returncode == 0, again.stderr
    assert f"updated: {ROWS}," in again.stdout, again.stdout
    with app.app_context():
        try:
            sources = db.session.execute(
                select(func.count(), func.count(func.distinct(Source.external_id)))
                .where(Source.origin == ORIGIN)).one()
            entries = db.session.scalar(
                select(func.count()).select_from(Entry).join(Source)
                .where(Source.origin == ORIGIN))
            streets = set(db.session.scalars(
                select(Entry.street).join(Source).where(Source.origin == ORIGIN)))
        finally:
            db.session.remove()
            db.engine.dispose()
    assert tuple(sources) == (ROWS, ROWS) and entries == ROWS
    assert streets == {f"bis {row[3]}" for row in grid_rows(ROWS, "k")}


def test_kill_9_of_a_command_line_import(databases, first_import, tmp_path):
    app, env, command = _prepared(databases, first_import, "import_kill", tmp_path)
    with LiveServer(app) as server:
        _before, cursor = _drain(server.url)
        lock = EntriesLocked(env["DATABASE_URL"])
        children: set[int] = set()
        try:
            parent, children = _started(command, env)
            assert lock.waiting() == 1  # the writer, on its first update
            parent.kill()  # SIGKILL to the command alone, not to its process group
            parent.wait(timeout=30)  # not communicate(): a live reader holds its pipes
            assert _until(lambda: not any(is_running(pid) for pid in children), 5), \
                "the reading process outlived the command"
        finally:
            for pid in children:  # never leave one behind, whatever the outcome
                if is_running(pid):
                    os.kill(pid, signal.SIGKILL)
            lock.release()  # the dead command's session ends once its update goes through
        assert _until(lambda: _idle_in_transaction(app) == 0, IDLE_TIMEOUT + 5)
        _feed_moves_on(app, server.url, cursor)
    _imported_once(app, command, env)


def test_a_stopped_import_loses_its_session_after_the_idle_timeout(databases, first_import,
                                                                   tmp_path):
    """Ctrl-Z (SIGSTOP) in the middle of an import: the server ends its idle transaction
    after ATLAS_IMPORT_IDLE_TIMEOUT, other writers and the feed go on; resumed, the
    command fails in one line, the run recorded as failed, nothing written."""
    app, env, command = _prepared(databases, first_import, "import_stop", tmp_path)
    with LiveServer(app) as server:
        _before, cursor = _drain(server.url)
        lock = EntriesLocked(env["DATABASE_URL"])
        try:
            parent, _children_pids = _started(command, env)
        except BaseException:
            lock.release()
            raise
        try:
            os.killpg(parent.pid, signal.SIGSTOP)
            lock.release()  # its update goes through, then its session waits on it
            assert _until(lambda: _idle_in_transaction(app) == 1, 5)
            assert _until(lambda: _idle_in_transaction(app) == 0, IDLE_TIMEOUT + 5)
            _feed_moves_on(app, server.url, cursor)
        finally:
            lock.release()
            os.killpg(parent.pid, signal.SIGCONT)
        _out, err = parent.communicate(timeout=120)
    assert parent.returncode == 1, err
    assert "Traceback" not in err and "idle" in err, err
    with app.app_context():
        try:
            run = db.session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
            assert run.status == "failed" and run.updated == 0 and "idle" in run.error
            assert db.session.scalar(select(func.count()).select_from(Entry).where(
                Entry.street.like("bis %"))) == 0
        finally:
            db.session.remove()
    _imported_once(app, command, env)


def _write(path, rows):
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def test_a_forked_reader_holds_none_of_the_parent_s_sockets(session, tmp_path):
    """The fork inherits the parent's libpq socket; the child puts /dev/null in its
    place at once, so that it could never keep the parent's session alive."""
    assert db.session.scalar(text("SELECT 1")) == 1  # the parent's connection is open
    path = _write(tmp_path / "few.csv", list(grid_rows(2_000, "f")))
    reader = prepared_in_child(CsvFile(path, load_csv_mapping(MAPPING)), 100, "fork")
    try:
        batches = iter(reader)
        assert next(batches).size == 100
        links = []
        for fd in Path(f"/proc/{reader.child.pid}/fd").iterdir():
            try:
                links.append(os.readlink(fd))
            except OSError:
                continue
        assert links and not [link for link in links if link.startswith("socket:")], links
    finally:
        reader.close()
    assert db.session.scalar(text("SELECT 2")) == 2  # and the parent's still works
