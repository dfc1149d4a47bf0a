"""Real instances for the sync tests: each its own throwaway database, served on loopback.

`Instance` is an application with its database, a LiveServer that can be stopped and
started again on the same port (a target that goes away mid-sync), and helpers that
read its state with plain SQL, independently of the sync code under test.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from werkzeug.serving import make_server

from app import entry_fields
from app.extensions import db
from app.services.entries import delete_entry, find_entry, save_entry
from app.services.revisions import Author
from tests.conftest import make_app
from tests.support.serving import serving

EDITOR = Author(label="test editor")

# Every public plain field of the registry (app/entry_fields.py), not the sync code's list.
STATE_SQL = text(f"""
SELECT e.id::text AS id, {", ".join("e." + name for name in entry_fields.public_names())},
       ST_X(e.geom) AS lon, ST_Y(e.geom) AS lat,
       ARRAY(SELECT t.slug FROM entry_tags et JOIN tags t ON t.id = et.tag_id
             WHERE et.entry_id = e.id ORDER BY t.slug) AS tags,
       ARRAY(SELECT r.type || ':' || r.target_id::text FROM relations r
             JOIN entries t ON t.id = r.target_id
             WHERE r.source_id = e.id AND t.deleted_at IS NULL
               AND t.moderation = 'published'
             ORDER BY 1) AS relations
FROM entries e
WHERE e.deleted_at IS NULL AND e.moderation = 'published'
""")

# Every published sheet of a public entry, with its answers: read with plain SQL.
SHEETS_SQL = text("""
SELECT s.id::text AS id, s.entry_id::text AS entry_id, s.title, s.held_on::text AS held_on,
       s.authors, s.state,
       ARRAY(SELECT concat_ws('|', a.key_slug, a.level, a.strengths, a.limits, a.stakes)
             FROM answers a WHERE a.evaluation_id = s.id ORDER BY a.key_slug) AS answers
FROM evaluations s JOIN entries e ON e.id = s.entry_id
WHERE s.deleted_at IS NULL AND s.state = 'published'
  AND e.deleted_at IS NULL AND e.moderation = 'published'
""")


BATCH_PATH = "/api/v1/entries/batch"


class Gate:
    """WSGI middleware in front of a real app: counts requests, can answer 503 for a while,
    and can stop the server once `stop_when(gate)` holds (the instance goes away)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.requests: list[tuple[str, str]] = []
        self.fail_next = 0
        self.stop_when: Callable[[Gate], bool] | None = None
        self.on_stop: Callable[[], None] | None = None
        # The n-th write is done, but its answer is lost: the instance stops and the
        # client gets a 503 (then finds nobody when it tries again).
        self.lose_answer_of_write: int | None = None
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        # False: answer the batch write as an instance older than it does (405).
        self.batch = True
        self.in_flight = self.max_in_flight = 0  # requests being answered at once

    def writes(self) -> list[tuple[str, str]]:
        """The write requests (a batch write refused as by an older instance wrote
        nothing: left out)."""
        return [r for r in self.requests if r[0] in ("PUT", "PATCH", "POST", "DELETE")
                and (self.batch or r != ("POST", BATCH_PATH))]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        with self.lock:
            self.requests.append((method, path))
            if self.fail_next > 0:
                self.fail_next -= 1
                start_response("503 Service Unavailable", [("Content-Type", "text/plain"),
                                                           ("Retry-After", "0")])
                return [b"busy"]
        if (self.lose_answer_of_write is not None and method in ("PUT", "DELETE")
                and len(self.writes()) == self.lose_answer_of_write):
            self.lose_answer_of_write = None
            body = b"".join(self.app(environ, lambda *args, **kw: None))
            assert body is not None
            if self.on_stop:
                stop, self.on_stop = self.on_stop, None
                threading.Thread(target=stop, daemon=True).start()
                self.stopped.wait(10)
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"gone"]
        if not self.batch and (method, path) == ("POST", BATCH_PATH):
            start_response("405 METHOD NOT ALLOWED", [("Content-Type", "text/html"),
                                                      ("Allow", "GET, PUT, PATCH, DELETE")])
            return [b"Method Not Allowed"]
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            answer = self.app(environ, start_response)
        finally:
            with self.lock:
                self.in_flight -= 1
        with self.lock:
            if self.stop_when is not None and self.on_stop and self.stop_when(self):
                stop, self.on_stop = self.on_stop, None
                threading.Thread(target=stop, daemon=True).start()
        return answer

    def count(self, method: str, prefix: str) -> int:
        return sum(1 for m, p in self.requests if m == method and p.startswith(prefix))


class Instance:
    """`demo`: the whole demo; `small`: SMALL_DEMO only (for tests whose subject does not
    depend on the volume); `built_by`: a copy of a template that function builds (`extra`:
    more of what it is built from, as copy_of takes); else an
    empty migrated database (`tags_only`: the demo's tags)."""

    def __init__(self, databases: Any, label: str, *, demo: bool = False, small: bool = False,
                 tags_only: bool = False, batch: bool = True,
                 built_by: Callable[[str], None] | None = None, extra: str = "",
                 **config: Any) -> None:
        built_by = _migrate_and_load_demo_tags if tags_only else built_by
        url = (databases.demo(label) if demo else small_demo(databases, label) if small
               else copy_of(databases, label, built_by, extra) if built_by
               else databases.migrated(label))
        self.app = make_app(url)
        self.app.config.update(config)
        self.gate = Gate(self.app)
        self.gate.batch = batch
        self.port = 0
        self.server = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop_when(self, condition: Callable[[Gate], bool]) -> None:
        """Stop serving (connections refused) right after the request that makes it true."""
        self.gate.stop_when = condition
        self.gate.on_stop = self.stop

    def lose_answer_of_write(self, n: int) -> None:
        """The n-th write is made, then the instance stops before answering it."""
        self.gate.stop_when = None
        self.gate.lose_answer_of_write = n
        self.gate.on_stop = self.stop

    def start(self) -> Instance:
        self.gate.stopped.clear()
        self.server = make_server("127.0.0.1", self.port, self.gate, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=serving(self.server), daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()  # refuse connections from now on
            self.server = None
        self.gate.stopped.set()

    @contextmanager
    def context(self) -> Iterator[None]:
        with self.app.app_context():
            try:
                yield
            finally:
                db.session.remove()

    def cli(self, *args: str) -> Any:
        return self.app.test_cli_runner().invoke(args=list(args))

    def state(self) -> dict[str, dict[str, Any]]:
        """Every public entry by id, its fields, tags and links: read with plain SQL."""
        with self.context():
            rows = db.session.execute(STATE_SQL).mappings().all()
            return {row["id"]: dict(row) for row in rows}

    def sheets(self) -> dict[str, dict[str, Any]]:
        """Every published sheet by id, its fields and answers: read with plain SQL."""
        with self.context():
            rows = db.session.execute(SHEETS_SQL).mappings().all()
            return {row["id"]: dict(row) for row in rows}

    # -- editing, as an editor would ------------------------------------------------------------

    def edit(self, ref: str, **changes: Any) -> None:
        with self.context():
            entry = find_entry(ref)
            save_entry(entry, changes, author=EDITOR, expected_version=entry.version)

    def create(self, data: dict[str, Any], entry_id: uuid.UUID | None = None) -> str:
        with self.context():
            entry = save_entry(None, data, author=EDITOR, expected_version=None,
                               entry_id=entry_id).entry
            return str(entry.id)

    def delete(self, ref: str) -> None:
        with self.context():
            entry = find_entry(ref)
            delete_entry(entry, expected_version=entry.version, author=EDITOR)

    def sql(self, query: str, **params: Any) -> list[Any]:
        with self.context():
            return db.session.execute(text(query), params).all()


# The small demo: these entries, all their links (each target is among them) and the demo's
# sheet (la-coroutine's), with the demo's whole tag vocabulary; the sync tests use by name
# mutualab, la-coroutine, dokuwiki, ajonc and superquinquin-val-de-marque. Between them
# they fill every field, kind, status and link type the whole demo does (el-cagette: the
# opening hours; superquinquin-sur-deule: a planned one), so that a mirror of it says what
# a mirror of the whole demo says (test_small_demo_fills_what_the_demo_fills).
SMALL_DEMO = ("mutualab", "la-coroutine", "dokuwiki", "loomio", "makerspace-lille-makers",
              "lille-makers", "amap-mutualab", "mres", "repair-cafe-mres", "ajonc",
              "jardin-des-retrouvailles", "superquinquin", "superquinquin-val-de-marque",
              "odoo", "wiki-des-communs", "mediawiki", "el-cagette",
              "superquinquin-sur-deule")


def small_demo(databases: Any, label: str) -> str:
    """A copy of a template holding SMALL_DEMO, loaded by the demo loader (stable ids, the
    same rows as in the whole demo); built once and kept like the others (tests/conftest.py)."""
    return copy_of(databases, label, _migrate_and_load_small_demo, repr(SMALL_DEMO))


def copy_of(databases: Any, label: str, build: Callable[[str], None], extra: str = "") -> str:
    """A new database copied from the template `build(url)` makes: built once, kept in the
    cluster between runs under a key of its source (and `extra`) and of TEMPLATE_SOURCES,
    as tests/conftest.py does for the demo."""
    return databases.from_template(label, build.__name__.strip("_")[:24], build, extra)


def _migrate_and_load_small_demo(url: str) -> None:
    from flask_migrate import upgrade

    import app.demo

    data = app.demo.read_demo()
    data["entries"] = [
        {**spec, "relations": [r for r in spec.get("relations", [])
                               if r["target"] in SMALL_DEMO]}
        for spec in data["entries"] if spec["slug"] in SMALL_DEMO]
    data["evaluations"] = [s for s in data.get("evaluations", []) if s["entry"] in SMALL_DEMO]
    assert len(data["entries"]) == len(SMALL_DEMO) and data["evaluations"]
    with make_app(url).app_context(), pytest.MonkeyPatch.context() as patch:
        upgrade()
        patch.setattr(app.demo, "read_demo", lambda *args, **kwargs: data)
        app.demo.load_demo()
        db.session.remove()
        db.engine.dispose()


def _migrate_and_load_demo_tags(url: str) -> None:
    """A migrated database with the demo's tags only: the template of `tags_only`."""
    from flask_migrate import upgrade

    with make_app(url).app_context():
        upgrade()
        load_demo_tags()
        db.session.remove()
        db.engine.dispose()


def load_demo_tags() -> None:
    """The demo's tag vocabulary only (a target must know the tags entries carry)."""
    from app.demo import read_demo
    from app.services.tags import ensure_tags

    ensure_tags(read_demo()["tags"])
    db.session.commit()


def without_local(state: dict[str, dict[str, Any]], *keys: str) -> dict[str, dict[str, Any]]:
    """The state less the given columns (e.g. the slug, which may differ on purpose)."""
    return {i: {k: v for k, v in row.items() if k not in keys} for i, row in state.items()}
