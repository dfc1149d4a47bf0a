"""The change feed: complete, ordered, and never stepping over a transaction that commits late."""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.request

import psycopg2
from sqlalchemy import select

from app.extensions import db
from app.formats.public import public_record
from app.models import Entry
from app.services.entries import create_entry, delete_entry, find_entry, update_entry
from app.services.errors import ConflictError
from app.services.revisions import Author
from tests import demo_data
from tests.conftest import LiveServer
from tests.support.api import comparable, fresh_app

BOT = Author(label="feed-test")


def poll(client, cursor=None, limit=100):
    url = f"/api/v1/changes?limit={limit}" + (f"&since={cursor}" if cursor else "")
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def drain(client, cursor=None, limit=100):
    changes = []
    while True:
        body = poll(client, cursor, limit)
        changes += body["changes"]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return changes, cursor


def test_the_feed_from_the_start_is_the_whole_base(client):
    changes, cursor = drain(client, limit=7)
    assert {c["entry"]["slug"] for c in changes} == {e["slug"] for e in demo_data.entries()}
    assert all(c["op"] == "upsert" for c in changes)
    assert len(changes) == len(demo_data.entries())
    again = poll(client, cursor)
    assert again["changes"] == [] and again["has_more"] is False
    assert again["next_cursor"] == cursor


def test_a_bad_cursor_is_a_named_problem(client):
    for since in ("garbage", "eyJzIjoiaWQiLCJrIjpbMV19", "eyJzIjoiY2hhbmdlcyIsImsiOlstMSwiMCJdfQ"):
        response = client.get(f"/api/v1/changes?since={since}")
        assert response.status_code == 400, since
        assert response.get_json()["invalid-params"][0]["name"] == "since"


def test_late_commit_is_delivered_not_skipped(databases):
    """Transaction A takes its id first, B later; B commits first, A after a reader polled."""
    app = fresh_app(databases, "latecommit")
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg2", "postgresql")
    client = app.test_client()
    _, cursor = drain(client)
    first, second = demo_data.entries()[0]["slug"], demo_data.entries()[1]["slug"]

    early, late = psycopg2.connect(url), psycopg2.connect(url)
    try:
        with early.cursor() as cur:  # takes its transaction id now, commits last
            cur.execute("UPDATE entries SET summary = 'early' WHERE slug = %s", (first,))
        with late.cursor() as cur:
            cur.execute("UPDATE entries SET summary = 'late' WHERE slug = %s", (second,))
        late.commit()

        between = poll(client, cursor)
        # The later transaction is withheld while the earlier one runs: handing it out
        # would move the cursor past the earlier one's rows.
        assert between["changes"] == []
        cursor = between["next_cursor"]

        early.commit()
        after = poll(client, cursor)
        assert [(c["entry"]["slug"], c["entry"]["summary"]) for c in after["changes"]] == [
            (first, "early"), (second, "late")]
    finally:
        early.close()
        late.close()
    with app.app_context():
        db.engine.dispose()


def test_deletions_and_withdrawals_are_tombstones(databases):
    app = fresh_app(databases, "tombstones")
    client = app.test_client()
    _, cursor = drain(client)
    with app.app_context():
        gone = find_entry(demo_data.entries()[2]["slug"])
        delete_entry(gone, expected_version=gone.version, author=BOT)
        hidden = find_entry(demo_data.entries()[3]["slug"])
        update_entry(hidden, {"moderation": "pending"}, expected_version=hidden.version,
                     author=BOT)
        ids = {str(gone.id), str(hidden.id)}
        db.session.remove()
    changes, _ = drain(client, cursor)
    assert {c["id"] for c in changes} == ids
    assert all(c["op"] == "delete" and c["deleted_at"] for c in changes)
    assert all("entry" not in c for c in changes)
    with app.app_context():
        db.engine.dispose()


def fetch(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def test_a_mirror_following_the_feed_while_editors_write_ends_equal(databases):
    app = fresh_app(databases, "mirror")
    with app.app_context():
        slugs = list(db.session.scalars(select(Entry.slug)))
        db.session.remove()
    errors: list[BaseException] = []

    def one_edit(rng: random.Random, label: str) -> None:
        action = rng.choice(("create", "update", "update", "delete"))
        if action == "create":
            entry = create_entry({"kind": "initiative", "name": f"Initiative {label}"},
                                 author=BOT, commit=False)
            slugs.append(entry.slug)
        else:
            entry = find_entry(rng.choice(slugs))
            if entry is None or entry.deleted_at is not None:
                return
            if action == "update":
                update_entry(entry, {"summary": f"edit {label}"},
                             expected_version=entry.version, author=BOT, commit=False)
            else:
                delete_entry(entry, expected_version=entry.version, author=BOT, commit=False)
        time.sleep(rng.uniform(0, 0.03))  # hold the transaction open a while

    def editor(seed: int, rounds: int) -> None:
        rng = random.Random(seed)
        try:
            with app.app_context():
                for i in range(rounds):
                    try:
                        one_edit(rng, f"{seed}-{i}")
                        db.session.commit()
                    except ConflictError:  # the other editor got there first: fine
                        db.session.rollback()
                db.session.remove()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    mirror: dict[str, dict] = {}
    with LiveServer(app) as server:
        editors = [threading.Thread(target=editor, args=(seed, 40)) for seed in (1, 2)]
        for thread in editors:
            thread.start()
        cursor, polls = None, 0
        while True:
            writing = any(t.is_alive() for t in editors)
            body = fetch(f"{server.url}/api/v1/changes?limit=25"
                         + (f"&since={cursor}" if cursor else ""))
            polls += 1
            for change in body["changes"]:
                if change["op"] == "upsert":
                    mirror[change["id"]] = change["entry"]
                else:
                    mirror.pop(change["id"], None)
            cursor = body["next_cursor"]
            if not writing and not body["has_more"]:
                break
            if not body["has_more"]:
                time.sleep(0.01)
    assert not errors, errors
    assert polls > 3

    with app.app_context():
        public = db.session.scalars(select(Entry).where(
            Entry.deleted_at.is_(None), Entry.moderation == "published")).all()
        expected = {str(e.id): comparable(public_record(e)) for e in public}
        deleted = db.session.scalar(select(db.func.count()).select_from(Entry).where(
            Entry.deleted_at.is_not(None)))
        db.session.remove()
        db.engine.dispose()
    assert deleted > 0
    assert len(expected) > len(demo_data.entries()) - deleted
    assert {k: comparable(v) for k, v in mirror.items()} == expected
