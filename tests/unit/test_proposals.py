"""Contributors' proposals and anonymous suggestions wait, invisible, until an editor decides."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from app.extensions import db, limiter
from app.models import Entry, Proposal, Revision
from app.services.entries import get_entry, snapshot, update_entry
from app.services.errors import WriteValidationError
from app.services.proposals import accept, propose_edit, reject, review
from app.services.revisions import Author
from tests.support.editor import (
    csrf_token,
    field_error,
    form_pairs,
    form_values,
    login,
    replaced,
)

EDIT = "/editor/entries/{id}/edit"


def logout(client):
    client.post("/logout", data={"csrf_token": csrf_token(client, "/editor/")})


def public_summary(client, slug: str) -> str:
    return client.get(f"/api/v1/entries/{slug}").get_json()["summary"]


def test_a_contributors_edit_stays_invisible_until_an_editor_accepts_it(client, accounts):
    entry = get_entry("mutualab")
    published, version = snapshot(entry), entry.version
    login(client, "contributor")
    pairs = form_pairs(client.get(EDIT.format(id=entry.id)).get_data(as_text=True),
                       "entry-form")
    assert "moderation" not in dict(pairs)  # contributors do not moderate
    response = client.post(EDIT.format(id=entry.id), data=MultiDict(replaced(
        pairs, summary="Résumé proposé par Camille.", comment="plus à jour")))
    assert response.status_code == 303
    db.session.expire_all()
    assert snapshot(get_entry("mutualab")) == published  # not one field, not one version
    assert public_summary(client, "mutualab") == published["summary"]
    assert "Résumé proposé" not in client.get("/entries/mutualab").get_data(as_text=True)
    # The contributor sees their proposal when they come back to the form, and its state.
    again = form_values(client.get(EDIT.format(id=entry.id)).get_data(as_text=True),
                        "entry-form")
    assert again["summary"] == "Résumé proposé par Camille."
    assert "En attente de relecture" in client.get("/editor/").get_data(as_text=True)
    logout(client)

    login(client, "editor")
    queue = client.get("/editor/proposals").get_data(as_text=True)
    proposal = db.session.scalar(select(Proposal).where(Proposal.entry_id == entry.id))
    assert f'data-proposal="{proposal.id}"' in queue and "plus à jour" in queue
    review_page = client.get(f"/editor/proposals/{proposal.id}").get_data(as_text=True)
    assert 'data-key="summary"' in review_page and 'data-key="city"' not in review_page
    token = csrf_token(client, f"/editor/proposals/{proposal.id}")
    response = client.post(f"/editor/proposals/{proposal.id}/accept",
                           data={"csrf_token": token, "version": str(entry.version),
                                 "review_comment": "merci"})
    assert response.status_code == 303
    assert public_summary(client, "mutualab") == "Résumé proposé par Camille."
    db.session.expire_all()
    assert proposal.state == "accepted" and proposal.review_comment == "merci"
    assert get_entry("mutualab").version == version + 1


def test_a_contributors_new_entry_is_pending_until_accepted(client, accounts):
    login(client, "contributor")
    page = client.get("/editor/entries/new").get_data(as_text=True)
    pairs = replaced(form_pairs(page, "entry-form"), name="Repair Café de Wazemmes",
                     kind="initiative", city="Lille")
    assert client.post("/editor/entries/new", data=MultiDict(pairs)).status_code == 303
    entry = db.session.scalar(select(Entry).where(Entry.name == "Repair Café de Wazemmes"))
    assert entry.moderation == "pending"
    assert client.get(f"/entries/{entry.slug}").status_code == 404
    assert client.get(f"/api/v1/entries/{entry.id}").status_code == 404
    listed = client.get("/api/v1/entries?limit=1000&q=wazemmes").get_json()["items"]
    assert entry.slug not in [i["slug"] for i in listed]
    # They may still correct their own pending entry (it stays pending).
    pairs = replaced(form_pairs(client.get(EDIT.format(id=entry.id)).get_data(as_text=True),
                                "entry-form"), summary="Réparer ensemble.")
    assert client.post(EDIT.format(id=entry.id), data=MultiDict(pairs)).status_code == 303
    db.session.expire_all()
    assert (entry.summary, entry.moderation) == ("Réparer ensemble.", "pending")
    # … but not someone else's pending entry.
    logout(client)
    from app.services.users import create_user

    create_user("other@example.org", "another contributor", "contributor")
    login(client, "other@example.org", "another contributor")
    assert client.get(EDIT.format(id=entry.id)).status_code == 403
    logout(client)

    login(client, "editor")
    proposal = db.session.scalar(select(Proposal).where(Proposal.entry_id == entry.id))
    token = csrf_token(client, f"/editor/proposals/{proposal.id}")
    client.post(f"/editor/proposals/{proposal.id}/accept",
                data={"csrf_token": token, "version": str(entry.version)})
    assert client.get(f"/entries/{entry.slug}").status_code == 200


def test_rejecting_needs_a_comment_which_the_contributor_sees(client, accounts):
    entry = get_entry("mutualab")
    proposal = propose_edit(entry, {"city": "Roubaix"}, author=Author(user=accounts[
        "contributor"]), base_version=entry.version)
    login(client, "editor")
    token = csrf_token(client, f"/editor/proposals/{proposal.id}")
    refused = client.post(f"/editor/proposals/{proposal.id}/reject",
                          data={"csrf_token": token, "review_comment": "  "})
    assert refused.status_code == 422
    assert "Dites pourquoi" in field_error(refused.get_data(as_text=True), "review_comment")
    client.post(f"/editor/proposals/{proposal.id}/reject",
                data={"csrf_token": token, "review_comment": "Mutualab est bien à Lille."})
    db.session.expire_all()
    assert proposal.state == "rejected" and get_entry("mutualab").city == "Lille"
    logout(client)
    login(client, "contributor")
    assert "Mutualab est bien à Lille." in client.get("/editor/").get_data(as_text=True)


def test_accepting_applies_only_what_the_contributor_changed(session, accounts):
    entry = get_entry("mutualab")
    base = entry.version
    proposal = propose_edit(entry, {"summary": "Proposé", "city": "Lille"},
                            author=Author(user=accounts["contributor"]), base_version=base)
    # An editor changes another field, then the same one, meanwhile.
    update_entry(entry, {"phone": "+33 3 20 11 22 33"}, expected_version=base,
                 author=Author(user=accounts["editor"]))
    seen = review(proposal)
    assert seen.changed == ["summary"] and seen.conflicting == []
    update_entry(entry, {"summary": "Corrigé par un éditeur"}, expected_version=entry.version,
                 author=Author(user=accounts["editor"]))
    assert review(proposal).conflicting == ["summary"]
    accept(proposal, reviewer=accounts["editor"], expected_version=entry.version)
    assert (entry.summary, entry.phone) == ("Proposé", "+33 3 20 11 22 33")
    with pytest.raises(WriteValidationError):
        accept(proposal, reviewer=accounts["editor"], expected_version=entry.version)


def test_a_second_edit_by_the_same_contributor_updates_their_proposal(session, accounts):
    entry = get_entry("mutualab")
    author = Author(user=accounts["contributor"])
    first = propose_edit(entry, {"city": "Lille-Centre"}, author=author,
                         base_version=entry.version)
    second = propose_edit(entry, {"city": "Lille-Fives"}, author=author,
                          base_version=entry.version)
    assert first.id == second.id and second.data["city"] == "Lille-Fives"
    assert session.scalar(select(func.count()).select_from(Proposal)) == 1
    assert propose_edit(entry, {"city": "Lille"}, author=author,
                        base_version=entry.version) is None  # back to the published text
    assert first.state == "rejected"


def test_a_proposal_is_validated_like_a_write(session, accounts):
    entry = get_entry("mutualab")
    with pytest.raises(WriteValidationError) as excinfo:
        propose_edit(entry, {"email": "pas-une-adresse", "tags": ["inconnue"]},
                     author=Author(user=accounts["contributor"]), base_version=entry.version)
    assert "email" in excinfo.value.messages
    assert session.scalar(select(func.count()).select_from(Proposal)) == 0


def test_rejecting_a_new_entry_keeps_it_stored_as_rejected(session, accounts):
    from app.services.proposals import propose_entry

    proposal = propose_entry({"kind": "commons", "name": "Wiki des Communs"},
                             author=Author(user=accounts["contributor"]))
    reject(proposal, reviewer=accounts["editor"], comment="Doublon de Communecter")
    assert proposal.entry.moderation == "rejected" and proposal.state == "rejected"


# -- suggest a place (anonymous) --------------------------------------------------------------

def suggestion(**extra) -> dict:
    return {"name": "Jardin partagé des Bois-Blancs", "kind": "initiative",
            "summary": "Un jardin ouvert aux voisins.", "city": "Lille", "lat": "50.6382",
            "lon": "3.0343", "contact": "voisine@example.org", "message": "J'y jardine.",
            **extra}


def test_anyone_may_suggest_a_place_and_it_lands_as_pending(client):
    limiter.reset()
    token = csrf_token(client, "/suggest")
    response = client.post("/suggest", data={"csrf_token": token, **suggestion()})
    assert response.status_code == 303
    entry = db.session.scalar(select(Entry).where(Entry.name == "Jardin partagé des Bois-Blancs"))
    assert entry.moderation == "pending"
    proposal = db.session.scalar(select(Proposal).where(Proposal.entry_id == entry.id))
    assert (proposal.author_id, proposal.author_label, proposal.contact, proposal.comment) == (
        None, "suggestion", "voisine@example.org", "J'y jardine.")
    revision = db.session.scalar(select(Revision).where(Revision.entity_id == entry.id))
    assert revision.author_label == "suggestion"
    assert client.get(f"/entries/{entry.slug}").status_code == 404
    limiter.reset()


def test_the_honeypot_stores_nothing_but_looks_like_success(client):
    limiter.reset()
    before = db.session.scalar(select(func.count()).select_from(Entry))
    token = csrf_token(client, "/suggest")
    response = client.post("/suggest", data={"csrf_token": token,
                                             **suggestion(homepage="http://spam.example")})
    assert response.status_code == 303 and response.headers["Location"].endswith(
        "/suggest/thanks")
    assert db.session.scalar(select(func.count()).select_from(Entry)) == before
    limiter.reset()


def test_bad_suggestions_are_named_beside_their_fields(client):
    token = csrf_token(client, "/suggest")
    response = client.post("/suggest", data={"csrf_token": token, **suggestion(
        name="", lat="95", contact="sans-arobase")})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "obligatoire" in field_error(html, "name")
    assert "-90 et 90" in field_error(html, "lat")
    assert "@" in field_error(html, "contact")
    assert form_values(html)["summary"] == "Un jardin ouvert aux voisins."


def test_suggestions_are_rate_limited(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "SUGGEST_RATE_LIMIT", "2 per hour")
    limiter.reset()
    token = csrf_token(client, "/suggest")
    codes = [client.post("/suggest", data={"csrf_token": token, **suggestion(
        name=f"Lieu {i}")}).status_code for i in range(3)]
    assert codes == [303, 303, 429]
    limited = client.post("/suggest", data={"csrf_token": token, **suggestion()})
    assert "trop souvent" in limited.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Entry).where(
        Entry.name.like("Lieu %"))) == 2
    limiter.reset()


def test_publishing_a_pending_entry_from_its_form_closes_its_proposal(client, accounts):
    from app.services.proposals import propose_entry

    proposal = propose_entry({"kind": "commons", "name": "Carte des jardins"},
                             author=Author(user=accounts["contributor"]))
    entry = proposal.entry
    login(client, "editor")
    pairs = replaced(form_pairs(client.get(EDIT.format(id=entry.id)).get_data(as_text=True),
                                "entry-form"), moderation="published")
    assert client.post(EDIT.format(id=entry.id), data=MultiDict(pairs)).status_code == 303
    db.session.expire_all()
    assert (entry.moderation, proposal.state) == ("published", "accepted")
    assert "Carte des jardins" not in client.get("/editor/proposals").get_data(as_text=True)


def test_reverting_keeps_the_moderation_state(session, accounts):
    from app.services.entries import revert_entry
    from app.services.proposals import propose_entry

    proposal = propose_entry({"kind": "commons", "name": "Wiki de quartier"},
                             author=Author(user=accounts["contributor"]))
    accept(proposal, reviewer=accounts["editor"], expected_version=proposal.entry.version)
    entry = proposal.entry
    update_entry(entry, {"summary": "Ajouté après"}, expected_version=entry.version,
                 author=Author(user=accounts["editor"]))
    revert_entry(entry, 1, expected_version=entry.version, author=Author(user=accounts["editor"]))
    assert (entry.summary, entry.moderation) == (None, "published")
