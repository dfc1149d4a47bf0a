"""`flask sync push` against another real instance's write API, and the two directions
together: A pushes to B, B pulls from A; after creates, edits and deletes on A, B holds
exactly A's entries, and a second push sends nothing. The hub here answers the batch
write as an older instance (405): the push falls back to one request per entry
(tests/integration/test_sync_batch.py covers the batch)."""

from __future__ import annotations

import pytest

from app.services.tokens import create_token
from app.services.users import create_user
from tests import demo_data
from tests.support.sync import SMALL_DEMO, Instance


@pytest.fixture
def lille(databases):
    """The small demo (tests/support/sync.py SMALL_DEMO): no test here depends on the
    volume (the full mirror included: it fills every field the whole demo fills, checked
    below); the batched push of a hundred entries is in test_sync_batch.py."""
    instance = Instance(databases, "push_lille_small", small=True)
    yield instance
    instance.stop()


@pytest.fixture
def hub(databases):
    instance = Instance(databases, "push_hub", tags_only=True, batch=False).start()
    yield instance
    instance.stop()


def token_for(instance: Instance, role: str = "editor") -> str:
    with instance.context():
        user = create_user(f"sync-{role}@hub.example", "a long enough password", role)
        plaintext, _ = create_token(user, "push from lille")
        return plaintext


def push(lille: Instance, hub: Instance, token: str, *more: str):
    return lille.cli("sync", "push", "--to", hub.url, "--token", token, "--as", "lille",
                     "--backoff", "0", *more)


def counts(output: str) -> dict[str, int]:
    line = next(line for line in output.splitlines() if line.startswith("created:"))
    return {k.strip(): int(v) for k, v in (part.split(":") for part in line.split(","))}


def slug_id(instance: Instance, slug: str) -> str:
    return next(i for i, r in instance.state().items() if r["slug"] == slug)


def test_small_demo_fills_what_the_demo_fills():
    """What the mirror tests on the small demo say holds for the whole: every field, kind,
    status and link type of the demo is in it, located entries and unlocated ones."""
    entries = demo_data.entries()
    small = [e for e in entries if e["slug"] in SMALL_DEMO]
    assert len(small) == len(SMALL_DEMO)
    for key in {k for e in entries for k in e}:
        assert any(e.get(key) for e in small), key
    for key in ("kind", "status"):
        assert {e[key] for e in small} == {e[key] for e in entries}, key
    assert {r["type"] for e in small for r in e.get("relations", [])
            if r["target"] in SMALL_DEMO} == {
        r["type"] for e in entries for r in e.get("relations", [])}
    assert {"lon" in e for e in small} == {True, False}


def test_push_then_pull_keep_the_hub_equal_to_lille(lille, hub):
    token = token_for(hub)
    result = push(lille, hub, token)
    assert result.exit_code == 0, result.output
    assert counts(result.output)["created"] == len(lille.state())
    assert counts(result.output)["refused"] == 0
    assert hub.state() == lille.state()  # same UUIDs, fields, tags and links
    sources = hub.sql("SELECT origin, external_id, entry_id::text FROM sources")
    assert {(o, x) for o, x, _ in sources} == {("remote:lille", i) for i in lille.state()}

    # Creates, edits and deletes on Lille, then a push and a pull.
    lille.edit("mutualab", summary="Réécrit à Lille.", tags=["coworking", "makerspace"])
    created = lille.create({"kind": "commons", "name": "Nouveau commun",
                            "relations": [{"type": "inspired_by",
                                           "target": slug_id(lille, "mutualab")}]})
    lille.delete("superquinquin-val-de-marque")
    before = len(hub.gate.requests)
    result = push(lille, hub, token)
    assert result.exit_code == 0, result.output
    assert counts(result.output) == {"created": 1, "updated": 1, "unchanged": 0,
                                     "deleted": 1, "refused": 0, "conflicts": 0}
    writes = [r for r in hub.gate.requests[before:] if r[0] in ("PUT", "DELETE")]
    assert len(writes) == 3  # only what changed was sent
    assert hub.state() == lille.state()
    assert created in hub.state()

    # The hub pulls from Lille too: everything is already there, nothing conflicts.
    result = hub.cli("sync", "pull", "--from", f"http://127.0.0.1:{lille_port(lille)}",
                     "--name", "lille", "--backoff", "0")
    assert result.exit_code == 0, result.output
    assert "conflicts: 0" in result.output and "created: 0" in result.output
    assert hub.state() == lille.state()

    # A second push sends nothing at all.
    before = len(hub.gate.requests)
    result = push(lille, hub, token)
    assert result.exit_code == 0, result.output
    assert set(counts(result.output).values()) == {0}
    assert hub.gate.requests[before:] == []


def lille_port(lille: Instance) -> int:
    if lille.server is None:
        lille.start()
    return lille.port


def test_an_interrupted_push_resumes_without_duplicates(lille, hub):
    token = token_for(hub)
    total = len(lille.state())
    # The hub goes away after 5 writes: the push stops, keeping its cursor.
    hub.stop_when(lambda gate: len(gate.writes()) >= 5)
    result = push(lille, hub, token, "--retries", "1")
    assert result.exit_code != 0
    assert "could not be reached" in result.output and "resume" in result.output
    there = len(hub.state())
    assert 0 < there < total
    hub.start()  # back on the same address
    result = push(lille, hub, token)
    assert result.exit_code == 0, result.output
    assert counts(result.output)["created"] == total - there
    assert counts(result.output)["conflicts"] == counts(result.output)["refused"] == 0
    assert hub.state() == lille.state()

    # Ten edits; the hub makes the fourth write, loses its answer and goes away.
    slugs = sorted(r["slug"] for r in lille.state().values())[:10]
    assert len(slugs) == 10
    for slug in slugs:
        lille.edit(slug, summary=f"Résumé revu pour {slug}.")
    already = len(hub.gate.writes())
    hub.lose_answer_of_write(already + 4)
    result = push(lille, hub, token, "--retries", "1")
    assert result.exit_code != 0
    hub.start()
    before = len(hub.gate.writes())
    result = push(lille, hub, token)
    assert result.exit_code == 0, result.output
    # The write whose answer was lost is recognised (not repeated); the 6 others follow.
    assert counts(result.output) == {"created": 0, "updated": 6, "unchanged": 1,
                                     "deleted": 0, "refused": 0, "conflicts": 0}
    assert len(hub.gate.writes()) - before == 7  # the replay's PUT got a 412
    assert hub.state() == lille.state()
    assert hub.sql("SELECT count(*) FROM entries")[0][0] == total


def test_refusals_and_target_edits_are_reported_and_the_rest_goes_on(lille, hub):
    token = token_for(hub)
    with lille.context():
        from app.extensions import db
        from app.models import Tag

        db.session.add(Tag(slug="only-in-lille", label_fr="Seulement à Lille",
                           label_en="Only in Lille"))
        db.session.commit()
    lone = lille.create({"kind": "initiative", "name": "Étiquette inconnue au hub",
                         "tags": ["only-in-lille"]})
    result = push(lille, hub, token)
    assert result.exit_code == 0, result.output
    assert f"refused etiquette-inconnue-au-hub {lone}: 422 tags:" in result.output
    assert counts(result.output)["refused"] == 1
    assert lone not in hub.state()
    assert len(hub.state()) == len(lille.state()) - 1  # the rest went on
    status = lille.cli("sync", "status").output
    assert f"push\t{hub.url}\tremote:127.0.0.1-{hub.port}" in status
    assert status.rstrip().endswith("1 refused")

    # An editor of the hub changes an entry; Lille changes it too: not overwritten.
    hub.edit(slug_id(hub, "mutualab"), summary="Corrigé au hub.")
    lille.edit("mutualab", summary="Corrigé à Lille.")
    result = push(lille, hub, token)
    assert result.exit_code == 0, result.output
    assert "conflict mutualab" in result.output and "changed on the target" in result.output
    assert hub.state()[slug_id(hub, "mutualab")]["summary"] == "Corrigé au hub."
    # The refused entry was tried again, and is still refused.
    assert counts(result.output)["refused"] == 1

    # Once the hub knows the tag, the next push delivers it.
    with hub.context():
        from app.extensions import db
        from app.models import Tag

        db.session.add(Tag(slug="only-in-lille", label_fr="Seulement à Lille",
                           label_en="Only in Lille"))
        db.session.commit()
    result = push(lille, hub, token)
    assert result.exit_code == 0, result.output
    assert hub.state()[lone] == lille.state()[lone]


def test_a_token_the_target_refuses_stops_the_push_and_nothing_is_lost(lille, hub):
    result = push(lille, hub, "atl_not-a-token")
    assert result.exit_code != 0
    assert "refuses the token (401)" in result.output
    assert hub.state() == {}
    result = push(lille, hub, token_for(hub))  # the cursor did not move
    assert result.exit_code == 0, result.output
    assert hub.state() == lille.state()


def test_a_push_waits_for_transactions_running_when_it_starts(lille, hub):
    """A writer that took its transaction id before an editor's save and commits later (an
    import, an autovacuum) holds the save back from the feed: the push waits for it rather
    than leaving the save for a push nobody may run."""
    import threading

    import psycopg2

    token = token_for(hub)
    assert push(lille, hub, token).exit_code == 0
    with lille.context():
        dsn = lille.app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg2",
                                                                  "postgresql")
    early = psycopg2.connect(dsn)
    with early.cursor() as cur:
        cur.execute("SELECT pg_current_xact_id()")  # takes its id now, commits later
    lille.edit("mutualab", summary="Réécrit pendant qu'une autre transaction dure.")
    threading.Timer(1.0, early.commit).start()
    try:
        result = push(lille, hub, token, "--wait", "20")
        assert result.exit_code == 0, result.output
        assert counts(result.output)["updated"] == 1
        hub_summary = hub.sql("SELECT summary FROM entries WHERE slug = 'mutualab'")
        assert hub_summary == [("Réécrit pendant qu'une autre transaction dure.",)]

        # One that outlasts --wait: the push says which session it waited for.
        stuck = psycopg2.connect(dsn)
        with stuck.cursor() as cur:
            cur.execute("SELECT pg_current_xact_id()")
        lille.edit("mutualab", summary="Encore réécrit.")
        result = push(lille, hub, token, "--wait", "0.3")
        assert result.exit_code == 0, result.output
        assert counts(result.output)["updated"] == 0
        assert f"session {stuck.get_backend_pid()}" in result.output
        stuck.rollback()
        stuck.close()
        assert counts(push(lille, hub, token).output)["updated"] == 1
    finally:
        early.close()
