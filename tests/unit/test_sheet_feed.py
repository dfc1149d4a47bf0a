"""The sheets' change feed (/api/v1/evaluations), one sheet by id, the JSON-LD's reviews,
and the demo's stable ids: on a demo copy whose writes commit."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime

import pytest

from app.demo import stable_entry_id, stable_sheet_id
from app.extensions import db
from app.models import Entry, Evaluation
from app.services.evaluations import delete_evaluation, save_evaluation
from app.services.revisions import Author
from tests.support.api import fresh_app

EDITOR = Author(label="feed test")
COROUTINE_SHEET = stable_sheet_id("la-coroutine", "2016-05-26",
                                  "Assemblée des communs du 26 mai 2016")


@pytest.fixture(scope="module")
def app(databases):
    return fresh_app(databases, "sheet_feed")


@pytest.fixture
def client(app):
    with app.app_context():
        yield app.test_client()
        db.session.remove()


def drain(client, cursor=None):
    changes = []
    while True:
        url = "/api/v1/evaluations?limit=1" + (f"&since={cursor}" if cursor else "")
        body = client.get(url).get_json()
        changes += body["changes"]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return changes, cursor


def same_record(a: dict, b: dict) -> bool:
    """Equal records (times compared as times: SQL and Python print them differently)."""
    def plain(record):
        return {**record, **{k: datetime.fromisoformat(record[k])
                             for k in ("created_at", "updated_at")}}
    return plain(a) == plain(b)


def sheet(slug: str, title: str, state: str) -> uuid.UUID:
    entry = db.session.scalar(db.select(Entry).where(Entry.slug == slug))
    return save_evaluation(entry, None, {"title": title, "held_on": "2025-06-01",
                                         "state": state,
                                         "answers": {"sharing": {"level": 2}}},
                           author=EDITOR, expected_version=None).evaluation.id


def test_the_demo_has_the_same_ids_on_every_instance(client):
    entry = db.session.scalar(db.select(Entry).where(Entry.slug == "mutualab"))
    assert entry.id == stable_entry_id("mutualab") == uuid.uuid5(
        uuid.UUID("9c0dae42-a3f3-5770-8869-4135e2ecb7fb"), "mutualab")
    assert db.session.get(Evaluation, COROUTINE_SHEET) is not None


def test_the_feed_holds_published_sheets_tombstones_and_never_a_draft(client):
    changes, cursor = drain(client)
    assert [c["id"] for c in changes] == [str(COROUTINE_SHEET)]
    listed = client.get("/api/v1/entries/la-coroutine/evaluations").get_json()["items"]
    assert same_record(changes[0]["sheet"], listed[0])  # as the entry's list has it
    assert changes[0]["op"] == "upsert" and changes[0]["aliases"] == []

    draft = sheet("mutualab", "Brouillon", "draft")
    published = sheet("mutualab", "Revue publiée", "published")
    new, cursor = drain(client, cursor)
    assert [c["id"] for c in new] == [str(published)]  # the draft is not even named

    # Unpublished, then deleted: a tombstone each time; the draft's deletion: nothing.
    row = db.session.get(Evaluation, published)
    save_evaluation(row.entry, row, {"title": row.title, "held_on": "2025-06-01",
                                     "state": "draft"}, author=EDITOR,
                    expected_version=row.version)
    delete_evaluation(db.session.get(Evaluation, draft), expected_version=1, author=EDITOR)
    new, cursor = drain(client, cursor)
    assert [(c["op"], c["id"], c["entry_id"]) for c in new] == [
        ("delete", str(published), str(row.entry_id))]
    assert client.get(f"/api/v1/evaluations/{published}").status_code == 410
    assert client.get(f"/api/v1/evaluations/{draft}").status_code == 404

    # A cursor of the entries' feed is not one of this feed, and the other way round.
    entries_cursor = client.get("/api/v1/changes?limit=1").get_json()["next_cursor"]
    refused = client.get(f"/api/v1/evaluations?since={entries_cursor}")
    assert refused.status_code == 400
    assert refused.get_json()["invalid-params"][0]["name"] == "since"
    assert client.get(f"/api/v1/changes?since={cursor}").status_code == 400


def test_one_sheet_by_id_and_the_entry_json_ld_carry_the_answers(client):
    answer = client.get(f"/api/v1/evaluations/{COROUTINE_SHEET}")
    assert answer.status_code == 200 and answer.headers["ETag"] == '"v1"'
    assert {a["key"] for a in answer.get_json()["answers"]} >= {"governance", "financing"}

    page = client.get("/entries/la-coroutine").get_data(as_text=True)
    ld = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page,
                              re.S).group(1))
    review = ld["review"][0]
    assert review["identifier"] == str(COROUTINE_SHEET)
    assert review["datePublished"] == "2016-05-26"
    governance = next(p for p in review["hasPart"] if p["reviewAspect"] == "Gouvernance")
    assert governance["reviewRating"]["bestRating"] == 4
    assert governance["positiveNotes"].startswith("Le lieu est **géré")
