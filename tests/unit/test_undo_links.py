"""Links an editor can see and undo: a twin link undone from the entry's page stays
undone at the next pull; a source detached from an entry neither feeds it again nor
creates it anew at its next run (an import of a registered source, a pull); editors
only, with the form's CSRF token and a ticked confirmation.

`here` and `there` are real instances, each with its own database; `there` serves its
API on loopback (a pull reads it over HTTP). The CSV source is a local HTTP server
(tests/support/replay.py) answering rows written by us.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    Entry,
    EntryFieldSource,
    Evaluation,
    IdentityLink,
    Source,
    SourceExclusion,
    User,
)
from app.services.entries import save_entry
from app.services.link_reasons import link_reason
from app.sources.registry import add_source, get_source
from app.sources.run import run_source
from app.sync.client import Remote
from app.sync.pull import Puller
from tests.support.editor import ACCOUNTS, csrf_token, login
from tests.support.replay import SOURCES_DATA as DATA
from tests.support.replay import Replay
from tests.support.serving import serving
from tests.support.sync import EDITOR, Instance

CSV_HEAD = "id,nom,adresse,code_postal,ville,courriel,lat,lon\n"


@pytest.fixture(scope="module")
def there(databases) -> Iterator[Instance]:
    instance = Instance(databases, "links_there").start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def here(databases, password_hash) -> Iterator[Instance]:
    instance = Instance(databases, "links_here")
    with instance.context():  # as the `accounts` fixture does: the session's one hash
        for account in ACCOUNTS.values():
            db.session.add(User(email=account.email, name=account.role.title(),
                                role=account.role, password_hash=password_hash))
        db.session.commit()
    yield instance


@pytest.fixture(scope="module")
def peer() -> Iterator[Replay]:
    replay = Replay()
    thread = threading.Thread(target=serving(replay.server), daemon=True)
    thread.start()
    yield replay
    replay.server.shutdown()
    thread.join(timeout=10)


def pull(here: Instance, there: Instance) -> dict[str, int]:
    with here.context():
        remote = Remote(there.url, retries=0)
        try:
            return Puller(remote, "fives").run().counts
        finally:
            remote.close()


def client_as(here: Instance, role: str | None):
    client = here.app.test_client()
    if role is not None:
        login(client, role)
    return client


def links_to(here: Instance, entry_id: str) -> list[str]:
    with here.context():
        return [str(a) for a in db.session.scalars(select(IdentityLink.alias_id).where(
            IdentityLink.entity_id == uuid.UUID(entry_id)))]


def entry_row(here: Instance, entry_id: str) -> tuple[str, str | None, int]:
    with here.context():
        entry = db.session.get(Entry, uuid.UUID(entry_id))
        return entry.name, entry.summary, entry.version


def test_a_twin_link_undone_on_the_page_is_not_made_again_by_the_next_pull(here, there):
    remote_id = there.create({"kind": "initiative", "name": "Café commun de Fives",
                              "website": "https://cafe-fives.example"})
    local_id = here.create({"kind": "initiative", "name": "Café commun (Fives)",
                            "website": "https://www.cafe-fives.example"})
    assert pull(here, there)["created"] == 0
    assert links_to(here, local_id) == [remote_id]

    editor = client_as(here, "editor")
    page = editor.get(f"/editor/entries/{local_id}/links")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'data-alias="{remote_id}"' in html
    assert "le même site web que « Café commun (Fives) »" in html  # why, in French
    assert '<td data-label="Relié par">fives</td>' in html  # who linked it
    assert "ne relient plus les deux" in html  # the rule, said on the page
    listed = editor.get("/editor/links").get_data(as_text=True)
    assert f'data-ref="{remote_id}"' in listed and "Café commun (Fives)" in listed

    path = f"/editor/links/{remote_id}/unlink"
    # Nobody else may, and no form without its token or its confirmation.
    assert client_as(here, None).get(f"/editor/entries/{local_id}/links").status_code == 302
    anonymous = client_as(here, None)
    assert anonymous.post(path, data={"csrf_token": csrf_token(anonymous), "confirm": "yes"}
                          ).status_code == 403
    contributor = client_as(here, "contributor")
    assert contributor.get(f"/editor/entries/{local_id}/links").status_code == 403
    assert contributor.get("/editor/links").status_code == 403
    assert contributor.post(path, data={"csrf_token": csrf_token(contributor, "/editor/"),
                                        "confirm": "yes"}).status_code == 403
    assert editor.post(path, data={"confirm": "yes"}).status_code == 400
    token = csrf_token(editor, f"/editor/entries/{local_id}/links")
    unconfirmed = editor.post(path, data={"csrf_token": token})
    assert unconfirmed.status_code == 303
    assert links_to(here, local_id) == [remote_id]

    done = editor.post(path, data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 303 and done.headers["Location"].endswith(
        f"/editor/entries/{local_id}/links")
    assert links_to(here, local_id) == []
    assert entry_row(here, remote_id)[0] == "Café commun de Fives"  # a separate entry
    before = entry_row(here, local_id)

    # The next pull updates the separate entry and does not link the two again.
    there.edit(remote_id, summary="Un café associatif.")
    counts = pull(here, there)
    assert counts["updated"] == 1 and counts["created"] == 0, counts
    assert links_to(here, local_id) == []
    assert entry_row(here, remote_id)[1] == "Un café associatif."
    assert entry_row(here, local_id) == before
    with here.context():
        assert db.session.scalar(select(func.count()).select_from(IdentityLink)) == 0


def test_a_pulled_entry_detached_from_its_remote_is_not_pulled_again(here, there):
    remote_id = there.create({"kind": "initiative", "name": "Recyclerie de Hellemmes"})
    pull(here, there)
    assert entry_row(here, remote_id)[0] == "Recyclerie de Hellemmes"
    editor = client_as(here, "editor")
    page = f"/editor/entries/{remote_id}/links"
    assert 'data-origin="remote:fives"' in editor.get(page).get_data(as_text=True)
    token = csrf_token(editor, page)
    path = f"/editor/entries/{remote_id}/sources/detach"
    assert editor.post(path, data={"origin": "remote:fives", "confirm": "yes"}
                       ).status_code == 400  # no token
    assert client_as(here, "contributor").post(path, data={
        "csrf_token": token, "origin": "remote:fives", "confirm": "yes"}).status_code in (
        400, 403)
    done = editor.post(path, data={"csrf_token": token, "origin": "remote:fives",
                                   "confirm": "yes"})
    assert done.status_code == 303
    with here.context():
        assert db.session.scalar(select(Source).where(
            Source.external_id == remote_id)) is None
        assert db.session.scalar(select(EntryFieldSource).where(
            EntryFieldSource.entry_id == uuid.UUID(remote_id),
            EntryFieldSource.origin == "remote:fives")) is None
    before = entry_row(here, remote_id)

    there.edit(remote_id, summary="Changé là-bas.")
    with there.context():  # a sheet of the entry there: not pulled onto it here either
        from app.services.evaluations import save_evaluation

        save_evaluation(db.session.get(Entry, uuid.UUID(remote_id)), None, {
            "title": "Assemblée de Hellemmes", "held_on": "2026-11-05", "state": "published",
            "answers": {}}, author=EDITOR, expected_version=None)
    counts = pull(here, there)
    assert counts["skipped"] == 1 and counts["updated"] == 0 and counts["created"] == 0
    assert entry_row(here, remote_id) == before
    with here.context():
        assert db.session.scalar(select(func.count()).select_from(Evaluation).where(
            Evaluation.entry_id == uuid.UUID(remote_id))) == 0
    html = editor.get(page).get_data(as_text=True)
    assert "Sources détachées" in html and remote_id in html


def test_a_sheet_on_an_entry_detached_from_its_remote_is_not_deleted_by_it(here, there):
    """Detaching stops the remote's deletions too: a sheet pulled with the entry stays
    here when the remote deletes it after an editor detached the entry."""
    from app.services.evaluations import delete_evaluation, save_evaluation
    from app.services.source_detach import detach_source

    remote_id = there.create({"kind": "initiative", "name": "Atelier vélo de Moulins"})
    with there.context():
        sheet = save_evaluation(db.session.get(Entry, uuid.UUID(remote_id)), None, {
            "title": "Assemblée de Moulins", "held_on": "2026-11-12", "state": "published",
            "answers": {}}, author=EDITOR, expected_version=None).evaluation
        sheet_id = sheet.id
    pull(here, there)
    with here.context():
        assert db.session.get(Evaluation, sheet_id).deleted_at is None
        detach_source(db.session.get(Entry, uuid.UUID(remote_id)), "remote:fives")
    with there.context():
        sheet = db.session.get(Evaluation, sheet_id)
        delete_evaluation(sheet, expected_version=sheet.version, author=EDITOR)
    pull(here, there)
    with here.context():
        kept = db.session.get(Evaluation, sheet_id)
        assert kept is not None and kept.deleted_at is None


def test_a_detached_source_neither_feeds_nor_recreates_the_entry(here, peer):
    """A registered CSV source links its record to a twin already here; an editor
    detaches it; its next run (with a changed value) skips the record."""
    local_id = here.create({"kind": "third_place", "name": "Ressourcerie du Faubourg",
                            "lon": 3.17003, "lat": 50.60501,
                            "summary": "Écrit par une éditrice."})
    row = "R-1,La Ressourcerie du Faubourg,\"12, rue du Faubourg\",59650,Villeneuve-d'Ascq," \
          "contact@ressourcerie-faubourg.example.org,50.60502,3.17001\n"
    peer.answers["/files/lieux.csv"] = ("text/csv", (CSV_HEAD + row).encode())
    with here.context():
        add_source({"name": "reseau", "label": "Réseau des ressourceries", "kind": "csv",
                    "url": f"{peer.url}/files/lieux.csv",
                    "mapping": str(DATA / "ressourcerie.toml")})
        db.session.commit()
        counts = run_source(get_source("reseau")).counts
        assert counts["created"] == 0 and counts["updated"] == 1, counts
        source = db.session.scalar(select(Source).where(Source.origin == "source:reseau"))
        assert str(source.entry_id) == local_id and source.linked_reason["code"] == "near"
        entry = db.session.get(Entry, uuid.UUID(local_id))
        assert entry.email == "contact@ressourcerie-faubourg.example.org"

    editor = client_as(here, "editor")
    listed = editor.get("/editor/links").get_data(as_text=True)
    assert 'data-ref="R-1"' in listed and "avec un nom semblable" in listed
    page = f"/editor/entries/{local_id}/links"
    html = editor.get(page).get_data(as_text=True)
    assert 'data-origin="source:reseau"' in html and "Réseau des ressourceries" in html
    token = csrf_token(editor, page)
    path = f"/editor/entries/{local_id}/sources/detach"
    assert editor.post(path, data={"csrf_token": token, "origin": "source:reseau"}
                       ).status_code == 303  # not confirmed: nothing detached
    with here.context():
        assert db.session.scalar(select(Source).where(Source.origin == "source:reseau"))
    assert editor.post(path, data={"csrf_token": token, "origin": "source:nope",
                                   "confirm": "yes"}).status_code == 404
    assert editor.post(path, data={"csrf_token": token, "origin": "source:reseau",
                                   "confirm": "yes"}).status_code == 303
    before = entry_row(here, local_id)
    with here.context():
        assert db.session.scalar(select(Source).where(Source.origin == "source:reseau")) \
            is None
        holders = dict(db.session.execute(select(EntryFieldSource.field,
                                                 EntryFieldSource.origin).where(
            EntryFieldSource.entry_id == uuid.UUID(local_id))).all())
        assert "source:reseau" not in holders.values()
        entry = db.session.get(Entry, uuid.UUID(local_id))
        assert entry.email == "contact@ressourcerie-faubourg.example.org"  # unchanged
        entries = db.session.scalar(select(func.count()).select_from(Entry))

    # The source says something new: its run neither updates the entry nor creates it.
    peer.answers["/files/lieux.csv"] = ("text/csv", (CSV_HEAD + row.replace(
        "contact@", "accueil@")).encode())
    with here.context():
        counts = run_source(get_source("reseau")).counts
        assert counts["skipped"] == 1 and counts["created"] == 0 \
            and counts["updated"] == 0 and counts["duplicates"] == 0, counts
        assert db.session.scalar(select(func.count()).select_from(Entry)) == entries
        assert db.session.scalar(select(Source).where(Source.origin == "source:reseau")) \
            is None
        entry = db.session.get(Entry, uuid.UUID(local_id))
        assert entry.email == "contact@ressourcerie-faubourg.example.org"
        exclusion = db.session.scalar(select(SourceExclusion).where(
            SourceExclusion.origin == "source:reseau"))
    assert entry_row(here, local_id) == before

    # Let it feed entries again: the exclusion goes, the next run meets the record anew
    # and links it to its twin again; the field it held before reads as an editor's now,
    # so its new value is reported as a conflict, not written.
    reattach = f"/editor/entries/{local_id}/sources/reattach"
    assert client_as(here, "contributor").post(reattach, data={
        "csrf_token": token, "exclusion": exclusion.id}).status_code in (400, 403)
    assert editor.post(reattach, data={"csrf_token": token, "exclusion": exclusion.id}
                       ).status_code == 303
    with here.context():
        counts = run_source(get_source("reseau")).counts
        assert counts["skipped"] == 0 and counts["conflicts"] == 1, counts
        source = db.session.scalar(select(Source).where(Source.origin == "source:reseau"))
        assert str(source.entry_id) == local_id and source.linked_reason
        entry = db.session.get(Entry, uuid.UUID(local_id))
        assert entry.email == "contact@ressourcerie-faubourg.example.org"


def test_the_list_of_recent_links_is_paginated(here, monkeypatch):
    import app.editor.links as links

    anchor_id = here.create({"kind": "initiative", "name": "Lieu repère"})
    with here.context():
        anchor = db.session.get(Entry, uuid.UUID(anchor_id))
        for n in range(3):
            db.session.add(IdentityLink(entity_type="entry", alias_id=uuid.uuid4(),
                                        entity_id=anchor.id, origin="remote:page-test",
                                        created_at=datetime.now(UTC) + timedelta(minutes=n),
                                        reason=link_reason("near", meters=10 + n,
                                                           name=f"Lieu {n}",
                                                           similarity=0.8)))
        db.session.commit()
        total = db.session.scalar(select(func.count()).select_from(IdentityLink)) + \
            db.session.scalar(select(func.count()).select_from(Source).where(
                Source.linked_reason.is_not(None)))
    monkeypatch.setattr(links, "PER_PAGE", 2)
    editor = client_as(here, "editor")
    first = editor.get("/editor/links").get_data(as_text=True)
    assert first.count("data-ref=") == 2 and 'rel="next"' in first and 'rel="prev"' not in first
    assert "à 12 m, avec un nom semblable (« Lieu 2 »)" in first  # the newest first
    pages = -(-total // 2)
    last = editor.get(f"/editor/links?page={pages}").get_data(as_text=True)
    assert last.count("data-ref=") == total - 2 * (pages - 1) and 'rel="next"' not in last
    assert editor.get("/editor/links?page=nonsense").status_code == 200


def test_detaching_keeps_every_value_and_moves_the_data_state(here):
    """The service alone: the record and the fields it held go, the values stay, the
    public pages' fingerprint moves (the entry page lists its sources)."""
    from app.query.state import data_state
    from app.services.entries import SourceRef, snapshot
    from app.services.source_detach import detach_source, detached_ids

    with here.context():
        entry = save_entry(None, {"kind": "initiative", "name": "Jardin des Moulins",
                                  "summary": "Un jardin."}, author=EDITOR,
                           expected_version=None,
                           source=SourceRef("csv:jardins", "J-1", {"mapped": {
                               "name": "Jardin des Moulins", "summary": "Un jardin."}})).entry
        before, version = snapshot(entry), entry.version
        state = data_state().token
        with pytest.raises(LookupError):
            detach_source(entry, "source:nowhere")
        detached = detach_source(entry, "csv:jardins")
        assert detached.external_ids == ["J-1"] and {"name", "summary"} <= set(detached.fields)
        assert data_state().token != state
        entry = db.session.get(Entry, entry.id)
        assert snapshot(entry) == before and entry.version == version
        assert detached_ids("csv:jardins") == {"J-1"}
        assert db.session.scalar(select(func.count()).select_from(EntryFieldSource).where(
            EntryFieldSource.entry_id == entry.id,
            EntryFieldSource.origin == "csv:jardins")) == 0


def test_a_push_naming_a_detached_record_is_refused(here):
    """A push from another instance writes through the API with its record named in
    X-Atlas-Source: once an editor detached that record here, the write is a 409 and
    nothing changes; the same write without the source (an editor's own) is taken."""
    from app.services.entries import SourceRef
    from app.services.source_detach import detach_source
    from app.services.tokens import create_token

    entry_id = uuid.uuid4()
    with here.context():
        entry = save_entry(None, {"kind": "initiative", "name": "Atelier poussé"},
                           author=EDITOR, expected_version=None, entry_id=entry_id,
                           source=SourceRef("remote:lille", str(entry_id))).entry
        detach_source(entry, "remote:lille")
        editor = db.session.scalar(select(User).where(User.email == ACCOUNTS["editor"].email))
        token, _ = create_token(editor, "push from Lille")
        db.session.commit()
    api = here.app.test_client()
    headers = {"Authorization": f"Bearer {token}", "If-Match": '"v1"',
               "X-Atlas-Source": f"remote:lille {entry_id}"}
    body = {"kind": "initiative", "name": "Atelier poussé", "summary": "Écrit à Lille."}
    refused = api.put(f"/api/v1/entries/{entry_id}", json=body, headers=headers)
    assert refused.status_code == 409, refused.get_data(as_text=True)
    assert "detached" in refused.get_json()["detail"]
    assert entry_row(here, str(entry_id)) == ("Atelier poussé", None, 1)
    other = uuid.uuid4()  # nor may it create the record anew under another id
    with here.context():
        db.session.add(SourceExclusion(origin="remote:lille", external_id=str(other),
                                       entry_id=entry_id))
        db.session.commit()
    created = api.put(f"/api/v1/entries/{other}", json=body, headers={
        "Authorization": headers["Authorization"], "If-None-Match": "*",
        "X-Atlas-Source": f"remote:lille {other}"})
    assert created.status_code == 409
    del headers["X-Atlas-Source"]
    assert api.put(f"/api/v1/entries/{entry_id}", json=body, headers=headers
                   ).status_code == 200
