"""The database goes away and comes back (issue 16): 503s while it is away, in the site's
own page or in problem+json, 200s as soon as it is back without restarting the app, no
500, no body cut, nothing lost.

The fault test serves the app over real HTTP on a cluster of its own
(tests/conftest.py's `own_cluster`), stops that cluster under a light load and starts
it again with the project's own command.
"""

from __future__ import annotations

import csv
import io
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass

import orjson
import psycopg2
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from app import create_app
from app.config import to_sqlalchemy_url
from app.extensions import db
from app.localdb import ThrowawayDatabases
from app.models import Entry
from tests.conftest import LiveServer, make_app

PROBLEM = "application/problem+json"
# Answers streamed from one query: once the view has returned, they no longer need the
# server while the base fits in one batch (the demo does).
STREAMED = ["/api/v1/entries.geojson", "/api/v1/exports/entries.geojson",
            "/api/v1/exports/entries.csv", "/api/v1/exports/entries.jsonld",
            "/api/v1/exports/gogocarto.json", "/api/v1/exports/gogocarto-refused.csv",
            "/api/v1/exports/lieux-mediation-numerique.csv",
            "/api/v1/exports/lieux-mediation-numerique-refused.csv"]
LOAD_PATHS = ["/", "/entries", "/api/v1/entries", "/api/v1/entries.geojson",
              "/ogc/collections/entries/items", "/entries/mutualab"]
CLIENTS = 6
# Six clients at ten requests a second each. Each phase lasts until what it must show has
# been seen, not for a set time: every path answered before the stop; DURING answers, on
# every path, while the database is away; every path back after the start, then AGAIN
# answers more on each to see that it stays back. LIMIT bounds each wait.
DURING = 20
AGAIN = 6
LIMIT = 60
RECOVERY_SECONDS = 5
NEW = {"kind": "initiative", "name": "Repair café du Faubourg", "city": "Lille",
       "lon": 3.0702, "lat": 50.6255, "tags": ["repair"]}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def is_machine(path: str) -> bool:
    return path.startswith(("/api", "/ogc")) or path.endswith(".json")


def assert_unavailable(response, path: str) -> None:
    """A 503 with Retry-After: problem+json for machines, the site's page for people."""
    assert response.status_code == 503, (path, response.status_code)
    assert response.headers["Retry-After"].isdigit(), path
    assert "no-store" in response.headers["Cache-Control"], path
    if is_machine(path):
        assert response.mimetype == PROBLEM, path
        body = response.get_json(force=True)
        assert body["status"] == 503 and body["title"] == "Service Unavailable", path
    else:
        html = response.get_data(as_text=True)
        assert response.mimetype == "text/html", path
        assert '<html lang="fr">' in html and 'class="site-header"' in html, path
        assert "momentanément indisponible" in html, path


# -- the database is unreachable ----------------------------------------------------------------

def test_an_unreachable_database_answers_503_pages_and_problems():
    app = make_app(f"postgresql://atlas:secret@127.0.0.1:{closed_port()}/atlas")
    client = app.test_client()
    for path in ("/", "/entries", "/entries/mutualab", "/tags/repair",
                 "/keys/gouvernance", "/api/v1/entries", "/api/v1/entries.geojson",
                 "/api/v1/entries/mutualab", "/api/v1/tags", "/api/v1/changes",
                 "/api/v1/exports/entries.csv", "/api/v1/exports/datapackage.zip",
                 "/ogc/collections/entries/items", "/ogc/collections/entries/items/x",
                 "/map/markers.json"):
        assert_unavailable(client.get(path), path)
    # The embed is a shell that reads nothing (a partner's iframe): its map asks for
    # /map/markers.json, answered 503 above, and says so in its status line.
    shell = client.get("/embed")
    assert shell.status_code == 200 and 'id="map-status"' in shell.get_data(as_text=True)
    english = client.get("/entries?lang=en")
    assert english.status_code == 503
    assert "briefly unavailable" in english.get_data(as_text=True)
    write = client.post("/api/v1/entries", json=NEW,
                        headers={"Authorization": "Bearer atl_some-token"})
    assert_unavailable(write, "/api/v1/entries")
    health = client.get("/healthz")
    assert health.status_code == 503 and health.headers["Retry-After"].isdigit()
    assert health.get_json()["status"] == "error"


def test_a_logged_in_visitor_gets_the_page_too():
    """The header shows who is logged in, which needs the database: the 503 page does not."""
    app = make_app(f"postgresql://atlas:secret@127.0.0.1:{closed_port()}/atlas")
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = "1:fingerprint"
        session["_fresh"] = True
    for path in ("/entries", "/editor/", "/editor/entries"):
        assert_unavailable(client.get(path), path)


# -- a cluster of our own, stopped and started --------------------------------------------------

@pytest.fixture(scope="module")
def outage_app(own_cluster):
    """The app (as in production: TESTING off) on a demo database of the own cluster."""
    with ThrowawayDatabases(own_cluster.url()) as databases:
        url = databases.create("outage")
        app = create_app({"SQLALCHEMY_DATABASE_URI": to_sqlalchemy_url(url),
                          "SECRET_KEY": "test-secret"})
        with app.app_context():
            from flask_migrate import upgrade

            from app.demo import load_demo

            upgrade()
            load_demo()
            db.session.remove()
        yield app
        with app.app_context():
            db.engine.dispose()


def whole(path: str, body: bytes) -> int:
    """How many records a complete body holds; fails on a body cut short."""
    if path.endswith(".csv"):
        text = body.decode()
        assert text.endswith("\r\n"), path
        return len(list(csv.reader(io.StringIO(text)))) - 1
    document = orjson.loads(body)
    for member in ("features", "@graph", "data"):
        if member in document:
            return len(document[member])
    raise AssertionError(f"{path}: no records in {sorted(document)}")


@contextmanager
def unreachable(own_cluster, app):
    """The app's database refuses connections and loses those it had (a cheap outage:
    the cluster keeps running)."""
    name = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    admin = psycopg2.connect(own_cluster.url())
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = %s", (name,))
        yield
    finally:
        with admin.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        admin.close()


def test_a_streamed_answer_reads_its_rows_before_it_starts(own_cluster, outage_app):
    """A stream whose view has returned (its status and headers may be on the wire) and
    whose database then goes away still ends whole; one asked for while it is away is
    a 503.

    Each stream is held by a thread of its own: a started stream keeps its request
    context pushed, and Flask's contexts are per thread.
    """
    expected = {path: whole(path, outage_app.test_client().get(path).get_data())
                for path in STREAMED}
    ready = threading.Barrier(len(STREAMED) + 1, timeout=60)
    away = threading.Event()
    results: dict[str, object] = {}

    def hold(path: str) -> None:
        try:
            response = outage_app.test_client().get(path)
            assert response.status_code == 200 and response.is_streamed, path
        finally:
            ready.wait()
        away.wait(timeout=60)
        try:
            results[path] = whole(path, response.get_data())
        except Exception as exc:  # reported below, with the path
            results[path] = exc

    threads = [threading.Thread(target=hold, args=(path,)) for path in STREAMED]
    for thread in threads:
        thread.start()
    ready.wait()
    try:
        with unreachable(own_cluster, outage_app):
            away.set()
            for thread in threads:
                thread.join(timeout=60)
            assert results == expected
            client = outage_app.test_client()
            for path in STREAMED:
                assert_unavailable(client.get(path), path)
    finally:
        away.set()
    assert outage_app.test_client().get(STREAMED[0]).status_code == 200


@dataclass
class Answer:
    path: str
    started: float
    ended: float
    status: int | None
    fault: str | None  # what was wrong with the answer itself


def answer_fault(path: str, status: int, headers, body: bytes) -> str | None:
    """Why an answer is not a whole 200 or a whole, well-formed 503 (None when it is)."""
    if status not in (200, 503):
        return f"status {status}"
    length = headers.get("Content-Length")
    if length is not None and int(length) != len(body):
        return f"{len(body)} bytes of {length}"
    kind = headers.get_content_type()
    try:
        if kind == "text/html":
            if not body.rstrip().endswith(b"</html>"):
                return "HTML cut short"
        else:
            document = json.loads(body)
    except ValueError:
        return f"{kind} cut short"
    if status == 503:
        if not (headers.get("Retry-After") or "").isdigit():
            return "503 without Retry-After"
        if is_machine(path) and (kind != PROBLEM or document.get("status") != 503):
            return f"503 as {kind}"
        if not is_machine(path) and "momentanément indisponible".encode() not in body:
            return "503 without the site's page"
    return None


def fetch(base: str, path: str) -> Answer:
    started = time.monotonic()
    request = urllib.request.Request(base + path, headers={"Accept-Language": "fr"})
    try:
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                status, headers, body = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, headers, body = error.code, error.headers, error.read()
    except Exception as exc:  # a cut body (IncompleteRead), a reset: all are faults here
        return Answer(path, started, time.monotonic(), None, f"{type(exc).__name__}: {exc}")
    return Answer(path, started, time.monotonic(), status,
                  answer_fault(path, status, headers, body))


def post_json(url: str, body: dict, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=orjson.dumps(body), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_live_app_rides_out_a_database_restart(own_cluster, outage_app):
    from app.services.tokens import create_token
    from app.services.users import create_user

    with outage_app.app_context():
        user = create_user("outage@example.org", "correct horse battery", "editor")
        token, _ = create_token(user, "outage test")
        db.session.remove()
    port = own_cluster.port
    answers: list[Answer] = []
    stop = threading.Event()
    deadline = time.monotonic() + 120  # bounded in time whatever happens

    def paths(since: float, status: int | None = None) -> set[str]:
        return {a.path for a in list(answers)
                if a.started >= since and (status is None or a.status == status)}

    def until(seen, what: str) -> None:
        """Load on until seen() (answers are listed once they have ended)."""
        limit = time.monotonic() + LIMIT
        while not seen():
            assert time.monotonic() < limit, f"{what}: not seen in {LIMIT} s"
            time.sleep(0.05)

    with LiveServer(outage_app) as server:
        status, written = post_json(f"{server.url}/api/v1/entries", NEW, token)
        assert status == 201, written

        def client(offset: int) -> None:
            for n in range(2_000):  # bounded in count
                if stop.is_set() or time.monotonic() > deadline:
                    return
                answers.append(fetch(server.url, LOAD_PATHS[(offset + n) % len(LOAD_PATHS)]))
                time.sleep(0.1)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            begun = time.monotonic()
            until(lambda: paths(begun, 200) == set(LOAD_PATHS), "every path before the stop")
            stopping = time.monotonic()
            own_cluster.stop()
            down = time.monotonic()
            status, refused = post_json(f"{server.url}/api/v1/entries",
                                        {**NEW, "name": "Écrit pendant la panne"}, token)
            until(lambda: paths(down) == set(LOAD_PATHS) and sum(
                a.started >= down for a in list(answers)) >= DURING, "answers while away")
            starting = time.monotonic()
            own_cluster.start()
            up = time.monotonic()
            # Load on until every kind of answer is back (or the bound is reached), then
            # until each has answered AGAIN times more, to see that they stay back.
            while time.monotonic() < up + RECOVERY_SECONDS + 1 and \
                    paths(up, 200) != set(LOAD_PATHS):
                time.sleep(0.05)

            def stayed() -> bool:
                back: dict[str, float] = {}
                later: dict[str, int] = dict.fromkeys(LOAD_PATHS, 0)
                for a in list(answers):
                    if a.started < up:
                        continue
                    if a.path in back and a.started > back[a.path]:
                        later[a.path] += 1
                    elif a.status == 200:
                        back[a.path] = min(back.get(a.path, a.ended), a.ended)
                return len(back) < len(LOAD_PATHS) or min(later.values()) >= AGAIN

            until(stayed, "answers after the recovery")
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        kept = fetch(server.url, f"/api/v1/entries/{written['slug']}")
    with outage_app.app_context():
        names = set(db.session.scalars(select(Entry.name)))
        db.session.remove()

    assert own_cluster.port == port
    faults = [a for a in answers if a.status is None or a.fault]
    assert not faults, [(a.path, a.status, a.fault) for a in faults[:10]]
    assert all(a.status != 500 for a in answers)
    before = [a for a in answers if a.ended < stopping]
    during = [a for a in answers if a.started >= down and a.ended < starting]
    after = [a for a in answers if a.started >= up]
    assert before and all(a.status == 200 for a in before)
    assert len(during) >= 20 and all(a.status == 503 for a in during), \
        sorted({(a.path, a.status) for a in during})
    assert {a.path for a in during} == set(LOAD_PATHS)
    first_ok = min(a.ended for a in after if a.status == 200)
    assert first_ok - up <= RECOVERY_SECONDS
    for path in LOAD_PATHS:  # every kind of answer recovers, and stays recovered
        back = min((a.ended for a in after if a.path == path and a.status == 200), default=None)
        assert back is not None and back - up <= RECOVERY_SECONDS, path
        assert all(a.status == 200 for a in after if a.path == path and a.started > back), path
    # Nothing lost, nothing half-written.
    assert kept.status == 200 and kept.fault is None
    assert status == 503 and refused["status"] == 503
    assert NEW["name"] in names and "Écrit pendant la panne" not in names
    print(f"\nfault test: {len(answers)} requests, {len(during)} during the outage "
          f"(all 503), {sum(a.status == 503 for a in answers)} 503 in all, "
          f"first 200 {first_ok - up:.2f} s after the restart, database stopped in "
          f"{down - stopping:.2f} s and started in {up - starting:.2f} s")


def test_the_pool_tests_connections_before_use_whatever_the_options():
    url = f"postgresql://atlas:secret@127.0.0.1:{closed_port()}/atlas"
    for options in (None, {}, {"pool_size": 3}):
        config = {"SQLALCHEMY_DATABASE_URI": to_sqlalchemy_url(url), "SECRET_KEY": "x"}
        if options is not None:
            config["SQLALCHEMY_ENGINE_OPTIONS"] = options
        app = create_app(config)
        with app.app_context():
            assert db.engine.pool._pre_ping is True, options


def test_a_connection_lost_after_the_last_query_does_not_fail_the_answer(database_url):
    """The server goes away between a view's last query and the end of the request: the
    answer is made, and ending the session (a rollback on a dead connection) must not
    turn it into a 500 or leave a broken session to the next request."""
    from sqlalchemy import text

    app = make_app(database_url)

    def lost() -> str:
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
        with db.engine.connect() as other:
            assert other.execute(text("SELECT pg_terminate_backend(:pid, 5000)"),
                                 {"pid": pid}).scalar()
        return "answered"

    app.add_url_rule("/lost", "lost", lost)
    client = app.test_client()
    response = client.get("/lost")
    assert response.status_code == 200 and response.get_data(as_text=True) == "answered"
    assert client.get("/api/v1/entries?limit=1").status_code == 200
    with app.app_context():
        db.engine.dispose()
