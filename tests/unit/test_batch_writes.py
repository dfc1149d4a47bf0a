"""The batch write (POST /api/v1/entries/batch) against the real database, through the
test client: the statements it costs per batch and each item's own outcome when many
items update at once."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Entry, EntryFieldSource, Revision
from app.services.tokens import create_token
from tests.support.statements import statements_sent

URL = "/api/v1/entries/batch"


@pytest.fixture
def editor(accounts) -> dict[str, str]:
    token, _ = create_token(accounts["editor"], "batch script")
    return {"Authorization": f"Bearer {token}"}


def place(n: int) -> dict:
    # Far apart and differently named: no item is a twin of another.
    return {"kind": "initiative", "name": f"Atelier numéro {n} {uuid.uuid4().hex[:6]}",
            "lon": 2.0 + n * 0.01, "lat": 48.0 + n * 0.01}


def creations(count: int) -> list[dict]:
    return [{"id": str(uuid.uuid4()), "if_none_match": "*",
             "source": f"remote:batchtest {n}", "entry": place(n)} for n in range(count)]


def test_a_batch_of_creations_looks_for_twins_once_for_the_whole_batch(client, editor):
    items = creations(12)
    with statements_sent(db.engine) as sent:
        response = client.post(URL, json={"items": items}, headers=editor)
    assert response.status_code == 200
    assert [a["status"] for a in response.get_json()["items"]] == [201] * 12
    twin_queries = [s for s in sent if "CROSS JOIN LATERAL" in s.sql and "similarity(" in s.sql]
    assert len(twin_queries) == 1, len(twin_queries)


def test_a_stale_if_match_among_many_updates_gets_its_412_and_the_others_land(
        client, editor):
    items = creations(8)
    assert [a["status"] for a in client.post(URL, json={"items": items}, headers=editor)
            .get_json()["items"]] == [201] * 8
    stale_id = items[3]["id"]
    changed = client.patch(f"/api/v1/entries/{stale_id}", json={"summary": "Écrit ici."},
                           headers={**editor, "If-Match": '"v1"'})
    assert changed.status_code == 200 and changed.headers["ETag"] == '"v2"'
    updates = [{"id": item["id"], "if_match": '"v1"', "source": item["source"],
                "entry": {**item["entry"], "summary": f"Mis à jour {n}."}}
               for n, item in enumerate(items)]
    with statements_sent(db.engine) as sent:
        answers = client.post(URL, json={"items": updates}, headers=editor).get_json()["items"]
    assert [(a["id"], a["status"], a.get("version")) for a in answers] == [
        (item["id"], 412 if item["id"] == stale_id else 200, 2) for item in items]
    assert answers[3]["problem"]["current_version"] == 2
    summaries = dict(db.session.execute(select(Entry.id, Entry.summary).where(
        Entry.id.in_([uuid.UUID(i["id"]) for i in items]))).all())
    assert {str(k): v for k, v in summaries.items()} == {
        item["id"]: "Écrit ici." if item["id"] == stale_id else f"Mis à jour {n}."
        for n, item in enumerate(items)}
    # One revision per written item, and who holds the summary now: the source.
    assert db.session.scalar(select(func.count()).select_from(Revision).where(
        Revision.entity_id.in_([uuid.UUID(i["id"]) for i in items]),
        Revision.version == 2, Revision.author_label.is_(None))) == 8
    holders = dict(db.session.execute(select(EntryFieldSource.entry_id, EntryFieldSource.origin)
                                      .where(EntryFieldSource.field == "summary")).all())
    assert holders[uuid.UUID(items[0]["id"])] == "remote:batchtest"
    assert holders[uuid.UUID(stale_id)] is None  # the editor's PATCH
    # Set-based: who holds each field is recorded in one statement for the batch.
    assert len([s for s in sent if s.sql.lstrip().startswith("INSERT INTO entry_field_sources")]) \
        == 1


def test_a_detached_source_in_a_batch_gets_the_single_puts_409(client, editor):
    from app.services.source_detach import detach_source

    items = creations(2)
    client.post(URL, json={"items": items}, headers=editor)
    entry = db.session.get(Entry, uuid.UUID(items[0]["id"]))
    detach_source(entry, "remote:batchtest")
    again = [
        {**items[0], "if_match": '"v1"', "entry": {**items[0]["entry"], "summary": "Non."}},
        # The same record as a new entry elsewhere (no twin: a plain creation).
        {**items[0], "id": str(uuid.uuid4()), "entry": place(40)},
        {**items[1], "if_match": '"v1"', "entry": {**items[1]["entry"], "summary": "Oui."}},
    ]
    del again[0]["if_none_match"], again[2]["if_none_match"]
    answers = client.post(URL, json={"items": again}, headers=editor).get_json()["items"]
    assert [a["status"] for a in answers] == [409, 409, 200]
    assert db.session.get(Entry, uuid.UUID(items[0]["id"])).summary is None
    assert db.session.get(Entry, uuid.UUID(again[1]["id"])) is None


def test_a_batch_of_updates_costs_the_same_statements_for_2_items_as_for_8(client, editor):
    """Set-based through the answer too: nothing is read again per item once written (the
    commit expires the entries; reading their ids then cost one SELECT each)."""
    sent_for = {}
    for count in (2, 8):
        # Apart from the other round's places (else twins of them).
        items = [{**item, "source": f"remote:batchcount{count} {n}",
                  "entry": place(n + 10 * count)} for n, item in enumerate(creations(count))]
        client.post(URL, json={"items": items}, headers=editor)
        updates = [{"id": item["id"], "if_match": '"v1"', "source": item["source"],
                    "entry": {**item["entry"], "summary": "Relu."}} for item in items]
        with statements_sent(db.engine) as sent:
            answers = client.post(URL, json={"items": updates}, headers=editor).get_json()
        assert [a["status"] for a in answers["items"]] == [200] * count
        # Each entry's own UPDATE checks its own version; nothing else is per item. (The
        # token's use is stamped now and then, in a savepoint: not the batch's work.)
        sent_for[count] = [s.sql for s in sent if not s.sql.startswith(
            ("UPDATE entries SET", "SAVEPOINT", "RELEASE SAVEPOINT", "UPDATE api_tokens"))]
    assert len(sent_for[8]) == len(sent_for[2]), "\n".join(
        s[:90].replace("\n", " ") for s in sent_for[8])


def test_a_link_to_a_creation_later_in_the_batch_is_made_with_it(client, editor):
    """Every entry of the batch is written before any link: a link to an item further
    on is made in the same go (was: the single PUT's 422, the item sent again without
    it). A link to an item refused gets the 422 naming that target."""
    items = [{**item, "source": f"remote:batchlinks {n}", "entry": place(n + 60)}
             for n, item in enumerate(creations(4))]
    items[0]["entry"]["relations"] = [{"type": "uses", "target": items[1]["id"]}]
    items[2]["entry"]["relations"] = [{"type": "uses", "target": items[3]["id"]}]
    items[3]["entry"]["lat"] = 123.0  # refused: out of range
    answers = client.post(URL, json={"items": items}, headers=editor).get_json()["items"]
    assert [a["status"] for a in answers] == [201, 201, 422, 422]
    assert [e["name"] for e in answers[2]["errors"]] == ["relations.0.target"]
    assert [e["name"] for e in answers[3]["errors"]] == ["lat"]
    links = client.get(f"/api/v1/entries/{items[0]['id']}/relations").get_json()["items"]
    assert [(i["direction"], i["entry"]["id"]) for i in links] == [("out", items[1]["id"])]
    assert db.session.get(Entry, uuid.UUID(items[2]["id"])) is None


def test_bad_items_among_creations_get_the_single_puts_422_each_and_the_others_land(
        client, editor):
    """Validation is quicker for what it accepts (app/schemas/fast_load.py); a refusal is
    still the schema's: each bad item gets the 422 its single PUT gets, naming its
    fields with the same codes, and the good items of the batch are written."""
    items = [{**item, "source": f"remote:batchbad {n}", "entry": place(n + 80)}
             for n, item in enumerate(creations(6))]
    items[1]["entry"]["website"] = "pas une adresse"
    items[1]["entry"]["name"] = "x" * 201
    items[3]["entry"]["lat"] = None  # a longitude alone
    items[4]["entry"]["tags"] = ["Pas Un Slug"]
    items[4]["entry"]["founded"] = "bientôt"
    answers = client.post(URL, json={"items": items}, headers=editor).get_json()["items"]
    assert [a["status"] for a in answers] == [201, 422, 201, 422, 422, 201]
    for n in (1, 3, 4):
        alone = client.put(f"/api/v1/entries/{uuid.uuid4()}", json=items[n]["entry"],
                           headers={**editor, "If-None-Match": "*",
                                    "X-Atlas-Source": items[n]["source"]})
        assert alone.status_code == 422
        assert sorted((e["name"], e.get("code")) for e in answers[n]["errors"]) == sorted(
            (e["name"], e.get("code")) for e in alone.get_json()["invalid-params"])
    assert {e["name"] for e in answers[1]["errors"]} == {"website", "name"}
    assert {e["name"] for e in answers[3]["errors"]} == {"lat"}
    assert {e["name"] for e in answers[4]["errors"]} == {"tags.0", "founded"}
    written = set(db.session.scalars(select(Entry.id).where(
        Entry.id.in_([uuid.UUID(i["id"]) for i in items]))))
    assert written == {uuid.UUID(items[n]["id"]) for n in (0, 2, 5)}


def test_a_batch_looks_up_its_sources_as_two_arrays_not_a_list_of_pairs(client, editor):
    """A row-value IN list of 500 (origin, external id) pairs cost PostgreSQL ~300 ms to
    plan on every batch request (38.6 s of a 100,000-entry push): the pairs go as two
    array parameters joined to the unique key (app/services/source_pairs.py)."""
    items = [{**item, "source": f"remote:batchpairs {n}", "entry": place(n + 100)}
             for n, item in enumerate(creations(3))]
    assert [a["status"] for a in client.post(URL, json={"items": items}, headers=editor)
            .get_json()["items"]] == [201] * 3
    updates = [{"id": item["id"], "if_match": '"v1"', "source": item["source"],
                "entry": {**item["entry"], "summary": "Par paires."}} for item in items]
    with statements_sent(db.engine) as sent:
        again = client.post(URL, json={"items": [*updates, *creations(2)]}, headers=editor)
    assert [a["status"] for a in again.get_json()["items"]] == [200, 200, 200, 201, 201]
    selects = [" ".join(s.sql.split()) for s in sent if s.sql.lstrip().startswith("SELECT")]
    assert not [sql for sql in selects if "external_id) IN ((" in sql]
    by_arrays = {sql.split(" FROM ")[1].split()[0] for sql in selects
                 if "unnest(CAST(%(origins)s AS text[])" in sql}
    assert by_arrays == {"sources", "source_exclusions"}, selects


def test_a_link_to_an_alias_is_made_to_the_entry_it_names_here(client, editor):
    """Creations are rendered before the write lock with each link's target as named;
    one named by an alias of a local entry is rendered again with that entry's id (its
    revision's snapshot and its link both name the local entry)."""
    from app.services.link_reasons import link_reason
    from app.services.links import link

    first = creations(1)
    assert client.post(URL, json={"items": first}, headers=editor).status_code == 200
    local, alias = first[0]["id"], str(uuid.uuid4())
    link("entry", uuid.UUID(alias), uuid.UUID(local), origin="remote:elsewhere",
         reason=link_reason("known_entry", id=alias))
    db.session.commit()
    item = {**creations(2)[1], "source": "remote:batchalias 1"}
    item["entry"]["relations"] = [{"type": "uses", "target": alias}]
    with statements_sent(db.engine) as sent:
        answers = client.post(URL, json={"items": [item]},
                              headers=editor).get_json()["items"]
    assert [a["status"] for a in answers] == [201]
    # Created set-based, not left to the single PUT (its ORM insert, a rollback before).
    assert not [s for s in sent if s.sql.lstrip().startswith("INSERT INTO entries")]
    links = client.get(f"/api/v1/entries/{item['id']}/relations").get_json()["items"]
    assert [(i["direction"], i["entry"]["id"]) for i in links] == [("out", local)]
    snapshot = db.session.scalar(select(Revision.snapshot).where(
        Revision.entity_id == uuid.UUID(item["id"])))
    assert [r["target"] for r in snapshot["relations"]] == [local]
