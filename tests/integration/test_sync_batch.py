"""Fast mirrors: the batch write (POST /api/v1/entries/batch) and set-based pulls and pushes.

One source instance for the module (the demo and 40 synthetic entries, with links and
sources, as bench/sync.py grows it: 100 entries, pulled in pages of 20 or 40 so that
several pages are written), served on loopback; each test pulls or pushes it into fresh
instances and compares the batched result with the entry-by-entry one, row
by row: entries, versions, revisions, sources and their baselines, field holders.
"""

from __future__ import annotations

import inspect
import uuid

import pytest
import requests

from app.extensions import db
from app.services.tokens import create_token
from app.services.users import create_user
from app.sync.client import Remote
from app.sync.pull import Puller, SyncFailed
from bench.exports import grow
from tests.conftest import migrate_and_load_demo
from tests.support.statements import statements_sent
from tests.support.sync import Instance

GROWN = 40
# What must be equal between two mirrors, times left out (each database its own).
TABLES = {
    "entries": "SELECT id::text, slug, version, moderation, deleted_at IS NULL FROM entries",
    "revisions": "SELECT entity_id::text, version, action, author_label, comment, "
                 "snapshot::text FROM revisions WHERE entity_type = 'entry'",
    "sources": "SELECT entry_id::text, origin, external_id, licence, attributes::text "
               "FROM sources",
    "holders": "SELECT entry_id::text, field, origin, value_hash FROM entry_field_sources",
    "links": "SELECT alias_id::text, entity_id::text, origin FROM identity_links",
    "relations": "SELECT source_id::text, target_id::text, type FROM relations",
}


def rows(instance: Instance) -> dict[str, list[tuple]]:
    return {name: sorted(tuple(r) for r in instance.sql(query))
            for name, query in TABLES.items()}


@pytest.fixture(scope="module")
def lille(databases):
    instance = Instance(databases, "batch_lille", built_by=_demo_grown,
                        extra=inspect.getsource(grow) + str(GROWN))
    instance.start()
    yield instance
    instance.stop()


def _demo_grown(url: str) -> None:
    """The demo and GROWN synthetic entries: a template built once, not grown per run."""
    migrate_and_load_demo(url)
    grow(url, 1, GROWN)


def pull(target: Instance, source: Instance, **options) -> tuple[dict, list]:
    with target.context():
        puller = Puller(Remote(source.url, retries=0, backoff=0), "lille", **options)
        result = puller.run()
        return result.counts, result.report


def token_for(instance: Instance) -> str:
    with instance.context():
        user = create_user("batch@hub.example", "a long enough password", "editor")
        plaintext, _ = create_token(user, "batch")
        return plaintext


def push(source: Instance, target: Instance, token: str):
    return source.cli("sync", "push", "--to", target.url, "--token", token, "--as", "lille",
                      "--backoff", "0")


def test_a_batched_pull_writes_what_an_entry_by_entry_pull_writes(databases, lille):
    batched, single = Instance(databases, "batch_b1"), Instance(databases, "batch_b2")
    counts, _ = pull(batched, lille, page_size=40)
    single_counts, _ = pull(single, lille, page_size=40, batched=False)
    assert counts == single_counts
    assert counts["created"] == len(lille.state()) > GROWN
    # (The synthetic entries' text is normalised on the way in: ids compared with Lille.)
    assert batched.state() == single.state()
    assert set(batched.state()) == set(lille.state())
    mine, theirs = rows(batched), rows(single)
    for name in TABLES:
        assert mine[name] == theirs[name], name
    # A second pull of each finds nothing new.
    assert pull(batched, lille)[0]["created"] == 0


def test_an_interrupted_batched_pull_resumes_without_duplicates_or_half_pages(databases,
                                                                             lille):
    hub = Instance(databases, "batch_b3")
    total = len(lille.state())
    # Lille goes away after answering the third page of its feed.
    pages = lille.gate.count("GET", "/api/v1/changes")
    lille.stop_when(lambda gate: gate.count("GET", "/api/v1/changes") >= pages + 3)
    try:
        with pytest.raises(SyncFailed):
            pull(hub, lille, page_size=20)
    finally:
        lille.start()
    entries = hub.sql("SELECT count(*) FROM entries")[0][0]
    assert entries == 3 * 20 < total  # three whole pages, nothing of the fourth
    for table in ("revisions", "sources"):
        assert hub.sql(f"SELECT count(DISTINCT entry_id) FROM {table}"
                       if table == "sources" else
                       "SELECT count(DISTINCT entity_id) FROM revisions") == [(entries,)]
    counts, _ = pull(hub, lille, page_size=20)
    assert counts["created"] == total - entries
    assert hub.sql("SELECT count(*) FROM entries")[0][0] == total
    assert set(hub.state()) == set(lille.state())


def test_the_batch_write_answers_each_item_and_refuses_above_its_limit(databases, lille):
    hub = Instance(databases, "batch_c1", tags_only=True).start()
    try:
        token = token_for(hub)
        headers = {"Authorization": f"Bearer {token}"}
        url = f"{hub.url}/api/v1/entries/batch"
        ids = [str(uuid.uuid4()) for _ in range(4)]
        place = {"kind": "initiative", "name": "Jardin partagé", "tags": ["garden"]}
        first = requests.post(url, headers=headers, timeout=30, json={"items": [
            {"id": ids[0], "if_none_match": "*", "source": f"remote:x {ids[0]}",
             "entry": {**place, "name": "Jardin des Bois-Blancs"}},
            {"id": ids[1], "if_none_match": "*", "source": f"remote:x {ids[1]}",
             "entry": {**place, "name": "Repair café", "email": "not an address"}},
            {"id": ids[2], "if_none_match": "*", "entry": {**place, "name": "Atelier vélo"}},
        ]})
        assert first.status_code == 200
        answers = first.json()["items"]
        assert [(a["id"], a["status"], a.get("version")) for a in answers] == [
            (ids[0], 201, 1), (ids[1], 422, None), (ids[2], 201, 1)]
        assert [e["name"] for e in answers[1]["errors"]] == ["email"]
        assert hub.sql("SELECT count(*) FROM entries WHERE id = :id", id=ids[1]) == [(0,)]

        # A stale If-Match gets its 412; the others land.
        hub.edit(ids[0], summary="Changé ici.")  # now at v2
        second = requests.post(url, headers=headers, timeout=30, json={"items": [
            {"id": ids[0], "if_match": '"v1"', "entry": {**place, "summary": "Écrasé ?"}},
            {"id": ids[2], "if_match": '"v1"', "entry": {**place, "name": "Atelier vélo",
                                                         "summary": "Mis à jour."}},
            {"id": ids[3], "if_none_match": "*", "source": f"remote:x {ids[3]}",
             "entry": {**place, "name": "Ressourcerie"}},
        ]}).json()["items"]
        assert [(a["status"], a.get("version")) for a in second] == [
            (412, 2), (200, 2), (201, 1)]
        assert second[0]["problem"]["current_version"] == 2
        assert hub.sql("SELECT summary FROM entries WHERE id = :id", id=ids[0]) == [
            ("Changé ici.",)]
        assert hub.sql("SELECT summary FROM entries WHERE id = :id", id=ids[2]) == [
            ("Mis à jour.",)]

        too_many = requests.post(url, headers=headers, timeout=30, json={"items": [
            {"id": str(uuid.uuid4()), "if_none_match": "*", "entry": place}] * 1001})
        assert too_many.status_code == 413
        assert too_many.json()["limit"] == 1000 and "1000" in too_many.json()["detail"]
        assert requests.post(url, timeout=30, json={"items": []}).status_code == 401
        spec = requests.get(f"{hub.url}/api/openapi.json", timeout=30).json()
        assert "post" in spec["paths"]["/api/v1/entries/batch"]
        assert "EntryBatch" in spec["components"]["schemas"]
    finally:
        hub.stop()


class Pushed:
    """A push of the module's Lille into a new target that takes batches: the target, the
    push's result and Lille's rows when it was made."""

    def __init__(self, databases, lille: Instance) -> None:
        self.target = Instance(databases, "batch_c2", tags_only=True).start()
        self.result = push(lille, self.target, token_for(self.target))
        self.state, self.rows = lille.state(), rows(lille)


@pytest.fixture(scope="module")
def batched_push(databases, lille):
    """One batched push of the whole Lille, for the two tests that look at it (one compares
    it with an entry-by-entry push, one with the links it had to hold back)."""
    pushed = Pushed(databases, lille)
    yield pushed
    pushed.target.stop()


def test_a_batched_push_writes_what_an_entry_by_entry_push_writes(databases, lille,
                                                                   batched_push):
    batched = batched_push.target
    older = Instance(databases, "batch_c3", tags_only=True, batch=False).start()
    try:
        assert lille.state() == batched_push.state  # the same Lille goes to both
        results = [batched_push.result, push(lille, older, token_for(older))]
        for result in results:
            assert result.exit_code == 0, result.output
        summary = [next(line for line in r.output.splitlines() if line.startswith("created:"))
                   for r in results]
        # The same entries: the batch only writes fewer times (an item that links to an
        # entry later in its batch is written once that entry is there, not sent without
        # the link and then again as version 2).
        counts = [dict((k.strip(), int(v)) for k, v in (part.split(":")
                                                         for part in line.split(",")))
                  for line in summary]
        assert counts[0]["created"] == counts[1]["created"] == len(lille.state())
        assert counts[0]["updated"] <= counts[1]["updated"]
        assert batched.gate.count("POST", "/api/v1/entries/batch") > 0
        assert batched.gate.count("PUT", "/api/v1/entries/") == 0
        assert older.gate.count("PUT", "/api/v1/entries/") >= len(lille.state())
        assert batched.state() == older.state()
        assert set(batched.state()) == set(lille.state())
        mine, theirs = rows(batched), rows(older)
        for name in ("sources", "holders", "links", "relations"):
            assert mine[name] == theirs[name], name
        assert latest(batched) == latest(older)
        versions = [dict(instance.sql("SELECT id::text, version FROM entries"))
                    for instance in (batched, older)]
        assert all(versions[0][i] <= versions[1][i] for i in versions[1])
        # Nothing new: no request at all.
        before = len(batched.gate.requests)
        assert push(lille, batched, token_for_again(batched)).exit_code == 0
        assert batched.gate.requests[before:] == []
    finally:
        older.stop()


def test_an_entry_linking_to_one_pushed_later_is_written_once_with_its_link(batched_push):
    """A fifth of the grown entries link to another, half of them to one later in the
    feed: each is held back until the end of the push and created then with its links
    (was: created without them, then updated to version 2)."""
    target, result = batched_push.target, batched_push.result
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("created:"))
    counts = {k.strip(): int(v) for k, v in (p.split(":") for p in line.split(","))}
    assert (counts["created"], counts["updated"], counts["refused"]) == (
        len(batched_push.state), 0, 0), line
    assert target.sql("SELECT count(*) FROM entries WHERE version <> 1") == [(0,)]
    assert target.sql("SELECT count(*) FROM revisions WHERE entity_type = 'entry' "
                      "AND action <> 'create'") == [(0,)]
    assert rows(target)["relations"] == batched_push.rows["relations"]
    assert len(batched_push.rows["relations"]) >= GROWN // 5


def latest(instance: Instance) -> dict[str, str]:
    """Each entry's last revision: its snapshot, author and comment."""
    return dict(instance.sql(
        "SELECT DISTINCT ON (entity_id) entity_id::text, concat_ws('|', snapshot::text, "
        "author_label, comment) FROM revisions WHERE entity_type = 'entry' "
        "ORDER BY entity_id, version DESC"))


def token_for_again(instance: Instance) -> str:
    with instance.context():
        from app.models import User

        user = db.session.query(User).filter_by(email="batch@hub.example").one()
        plaintext, _ = create_token(user, "batch again")
        return plaintext


def test_an_editors_text_survives_a_batched_pull(databases, lille):
    """The project's first rule, with new entries created set-based in the same pages."""
    hub = Instance(databases, "batch_b4")
    pull(hub, lille, page_size=100)
    target = next(r for r in lille.state().values() if r["slug"] == "mutualab")
    hub.edit("mutualab", summary="Texte de l'éditrice, écrit ici.")
    lille.edit("mutualab", summary="Texte réécrit à Lille.", city="Lille (59)")
    new = [lille.create({"kind": "initiative", "name": f"Nouvelle initiative {n}"})
           for n in range(30)]
    counts, report = pull(hub, lille, page_size=100)
    assert counts["created"] == 30 and counts["updated"] == 1 and counts["conflicts"] == 1
    here = hub.state()[target["id"]]
    assert here["summary"] == "Texte de l'éditrice, écrit ici."
    assert here["city"] == "Lille (59)"
    assert all(i in hub.state() for i in new)
    assert any(line.get("field") == "summary" for line in report)


def test_a_pull_writes_a_pages_updates_together_and_an_editors_text_stays(databases, lille):

    hub = Instance(databases, "batch_b5")
    pull(hub, lille, page_size=500)
    slugs = [f"bench-{n}" for n in range(1, 7)]
    hub.edit(slugs[0], summary="Texte de l'éditrice, écrit ici.")
    for n, slug in enumerate(slugs):
        lille.edit(slug, summary=f"Réécrit à Lille {n}.")
    with hub.context(), statements_sent(db.engine) as sent:
        counts, _ = pull(hub, lille, page_size=500)
    assert counts["updated"] == 5 and counts["conflicts"] == 1
    summaries = {r["slug"]: r["summary"] for r in hub.state().values()}
    assert summaries[slugs[0]] == "Texte de l'éditrice, écrit ici."
    assert [summaries[s] for s in slugs[1:]] == [f"Réécrit à Lille {n}." for n in range(1, 6)]
    # Set-based: who holds each field, for the page's updates, in one statement.
    assert len([s for s in sent
                if s.sql.lstrip().startswith("INSERT INTO entry_field_sources")]) == 1
