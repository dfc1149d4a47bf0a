"""Fast mirrors, overlapped: a push keeps two batch requests in flight, and the target
writes concurrent batches one after the other (an advisory lock taken before the
look-ups that must see the previous batch's entries: twins, known ids, sources).

The target's serialisation is shown deterministically: a test connection holds a lock
that the first batch's write waits for (its rows written, not committed), the second
batch is sent meanwhile, then the lock is let go."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid

import pytest
import requests
from sqlalchemy import text

import app.sync.push as push_module
from app.extensions import db
from app.services.tokens import create_token
from app.services.users import create_user
from tests.support.sync import BATCH_PATH, Instance


def token_for(instance: Instance) -> str:
    with instance.context():
        user = create_user("overlap@hub.example", "a long enough password", "editor")
        plaintext, _ = create_token(user, "overlap")
        return plaintext


def waiting_on_locks(instance: Instance) -> int:
    return instance.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND wait_event_type = 'Lock'")[0][0]


def wait_until(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_a_twin_split_across_two_concurrent_batches_is_linked_not_created_twice(databases):
    hub = Instance(databases, "overlap_twins", tags_only=True).start()
    try:
        headers = {"Authorization": f"Bearer {token_for(hub)}"}
        place = {"kind": "initiative", "lon": 3.06, "lat": 50.63,
                 "website": "https://ressourcerie-du-nord.example"}
        first, second = str(uuid.uuid4()), str(uuid.uuid4())
        batches = [
            {"items": [{"id": first, "if_none_match": "*", "source": "remote:x 1",
                        "entry": {**place, "name": "Ressourcerie du Nord"}}]},
            {"items": [{"id": second, "if_none_match": "*", "source": "remote:y 2",
                        "entry": {**place, "name": "La ressourcerie"}}]},
        ]
        answers: list[dict | None] = [None, None]

        def send(i: int) -> None:
            answers[i] = requests.post(f"{hub.url}{BATCH_PATH}", json=batches[i],
                                       headers=headers, timeout=60).json()

        with hub.app.app_context():
            blocker = db.engine.connect()
            try:
                transaction = blocker.begin()
                # Reads go on; the first batch's rows wait, uncommitted, at revisions.
                blocker.execute(text("LOCK TABLE revisions IN SHARE MODE"))
                threads = [threading.Thread(target=send, args=(i,)) for i in (0, 1)]
                threads[0].start()
                wait_until(lambda: waiting_on_locks(hub) >= 1, "the first batch's write")
                threads[1].start()
                wait_until(lambda: waiting_on_locks(hub) >= 2, "the second batch")
                transaction.rollback()
            finally:
                blocker.close()
                db.engine.dispose()
        for thread in threads:
            thread.join(60)
        assert answers[0]["items"][0]["status"] == 201
        # The second saw the first one's entry: linked to it (the single PUT's 412).
        assert answers[1]["items"][0]["status"] == 412, answers[1]
        assert hub.sql("SELECT id::text FROM entries WHERE website = :w",
                       w=place["website"]) == [(first,)]
        assert hub.sql("SELECT alias_id::text, entity_id::text FROM identity_links") == [
            (second, first)]
    finally:
        hub.stop()


@pytest.fixture
def small_pages(monkeypatch):
    """Pages of 4 entries sent in batches of 2: a small demo makes several pages."""
    monkeypatch.setattr(push_module, "PAGE", 4)
    monkeypatch.setattr(push_module, "BATCH", 2)


def push(source: Instance, target: Instance, token: str, *more: str):
    return source.cli("sync", "push", "--to", target.url, "--token", token, "--as", "lille",
                      "--backoff", "0", *more)


def test_a_push_keeps_two_batches_in_flight_and_resumes_after_a_stop(databases,
                                                                     small_pages):
    lille = Instance(databases, "overlap_lille", small=True)
    hub = Instance(databases, "overlap_hub", tags_only=True).start()
    try:
        token = token_for(hub)
        total = len(lille.state())
        # The first two batch requests with items wait for each other (5 s at most): both
        # are in flight at once only if the pusher sends the second before the first's
        # answer came back.
        meet, inner, met = threading.Barrier(2), hub.gate.app, []

        def paired(environ, start_response):
            if (environ["REQUEST_METHOD"], environ.get("PATH_INFO")) == ("POST", BATCH_PATH) \
                    and int(environ.get("CONTENT_LENGTH") or 0) > 20 and len(met) < 2:
                met.append(1)
                with contextlib.suppress(threading.BrokenBarrierError):
                    meet.wait(timeout=5)
            return inner(environ, start_response)

        hub.gate.app = paired
        # After its fifth batch request (the first of the third page; the sixth is sent at
        # the same time), the hub answers 503 to everything: the push stops there.
        hub.gate.stop_when = lambda gate: gate.count("POST", BATCH_PATH) >= 1 + 5
        hub.gate.on_stop = lambda: setattr(hub.gate, "fail_next", 1_000)
        result = push(lille, hub, token, "--retries", "0")
        assert result.exit_code != 0
        assert "resume" in result.output
        assert hub.gate.max_in_flight >= 2  # two batch requests at once
        there = hub.sql("SELECT count(*) FROM entries")[0][0]
        assert 0 < there < total
        with lille.context():
            acknowledged = db.session.execute(text(
                "SELECT count(*) FROM sync_pushed WHERE state = 'sent'")).scalar()
        assert acknowledged <= there  # only what came back
        hub.gate.fail_next = 0
        result = push(lille, hub, token)
        assert result.exit_code == 0, result.output
        assert "refused: 0" in result.output and "conflicts: 0" in result.output
        assert hub.state() == lille.state()  # nothing missing
        assert hub.sql("SELECT count(*) FROM entries")[0][0] == total  # nothing twice
        assert hub.sql("SELECT count(*), count(DISTINCT external_id) FROM sources") == [
            (total, total)]
        assert hub.sql("SELECT count(*) FROM identity_links") == [(0,)]
        with lille.context():
            states = db.session.execute(text(
                "SELECT state, count(*) FROM sync_pushed GROUP BY state")).all()
        assert states == [("sent", total)]
    finally:
        hub.stop()
