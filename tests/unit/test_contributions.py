"""Contributors follow what they sent: "My contributions", the editor's reason in their
language (page, history and mail), and editing their own pending proposal, nobody else's.

HTTP through the Flask test client against the demo database; decision mails reach a
real SMTP server on loopback (aiosmtpd).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.models import Entry, Proposal, User
from app.services.entries import get_entry, snapshot
from tests.support.editor import (
    ACCOUNTS,
    csrf_token,
    form_pairs,
    form_values,
    login,
    replaced,
)
from tests.support.smtp import SmtpServer, body

EDIT = "/editor/entries/{id}/edit"
OTHER = "dominique@example.org"


@pytest.fixture(scope="module")
def smtp_server():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def smtp(app, smtp_server, monkeypatch):
    """Decisions are mailed to the test server; the instance's own mail language is
    English, so a French mail can only come from the contributor's language."""
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", smtp_server.port)
    monkeypatch.setitem(app.config, "MAIL_LOCALE", "en")
    smtp_server.inbox.clear()
    return smtp_server.inbox


def logout(client) -> None:
    client.post("/logout", data={"csrf_token": csrf_token(client, "/editor/")})


def propose_new(client, name: str) -> Proposal:
    pairs = replaced(form_pairs(client.get("/editor/entries/new").get_data(as_text=True),
                                "entry-form"), name=name, kind="initiative", city="Lille")
    assert client.post("/editor/entries/new", data=MultiDict(pairs)).status_code == 303
    return db.session.scalar(select(Proposal).join(Entry).where(Entry.name == name))


def propose_change(client, entry: Entry, **changes: str) -> None:
    pairs = form_pairs(client.get(EDIT.format(id=entry.id)).get_data(as_text=True),
                       "entry-form")
    response = client.post(EDIT.format(id=entry.id), data=MultiDict(replaced(pairs, **changes)))
    assert response.status_code == 303


def test_a_contributor_sees_the_refusal_reason_in_french(client, accounts, smtp):
    login(client, "contributor")  # no language asked: the site's, French
    proposal = propose_new(client, "Atelier vélo de Fives")
    logout(client)

    login(client, "editor")
    token = csrf_token(client, f"/editor/proposals/{proposal.id}")
    client.post(f"/editor/proposals/{proposal.id}/reject",
                data={"csrf_token": token, "review_comment": "Hors du territoire couvert."})
    logout(client)

    # The mail, in the language the proposal was written in (the instance's is English).
    [mail] = smtp.wait_for(ACCOUNTS["contributor"].email)
    assert "n’a pas été acceptée" in mail["Subject"]
    assert "Leur raison" in body(mail) and "Hors du territoire couvert." in body(mail)
    assert "/editor/contributions" in body(mail)

    login(client, "contributor")
    page = client.get("/editor/contributions").get_data(as_text=True)
    row = page[page.index(f'data-proposal="{proposal.id}"'):]
    row = row[:row.index("</tr>")]
    assert "Atelier vélo de Fives" in row and "Refusée" in row
    assert "Motif du refus :" in row and "Hors du territoire couvert." in row
    # Its own page, and the entry's history: French words around the editor's own.
    own = client.get(f"/editor/proposals/{proposal.id}")
    assert own.status_code == 200
    assert "Motif du refus :" in own.get_data(as_text=True)
    history = client.get(f"/editor/entries/{proposal.entry_id}/history").get_data(
        as_text=True)
    assert f"Proposition {proposal.id} refusée : Hors du territoire" in history
    assert "rejected:" not in history and "Proposed" not in history


def test_a_proposal_sent_in_english_is_answered_in_english(client, accounts, smtp):
    login(client, "contributor")
    client.get("/editor/?lang=en")  # the visible switch: its cookie stays
    proposal = propose_new(client, "Fives bike workshop")
    assert proposal.locale == "en"
    logout(client)
    login(client, "editor")
    token = csrf_token(client, "/editor/?lang=fr")
    client.post(f"/editor/proposals/{proposal.id}/reject",
                data={"csrf_token": token, "review_comment": "Out of our area."})
    [mail] = smtp.wait_for(ACCOUNTS["contributor"].email)
    assert "was not accepted" in mail["Subject"] and "Out of our area." in body(mail)


def test_a_contributor_edits_their_own_pending_proposal_and_not_someone_elses(
        client, accounts, password_hash):
    db.session.add(User(email=OTHER, name="Dominique", role="contributor",
                        password_hash=password_hash))
    db.session.commit()
    mutualab = get_entry("mutualab")
    published = snapshot(mutualab)

    login(client, "contributor")
    created = propose_new(client, "Repair Café de Moulins")
    propose_change(client, mutualab, summary="Résumé proposé par Camille.")
    edit = db.session.scalar(select(Proposal).where(Proposal.entry_id == mutualab.id,
                                                    Proposal.state == "pending"))
    page = client.get("/editor/contributions").get_data(as_text=True)
    for proposal in (created, edit):
        assert f'data-proposal="{proposal.id}"' in page
        assert f'href="{EDIT.format(id=proposal.entry_id)}"' in page  # "Modifier"
    # "Modifier" opens, from their own proposal page too.
    own = client.get(f"/editor/proposals/{edit.id}")
    assert own.status_code == 200
    assert "Modifier ma proposition" in own.get_data(as_text=True)
    form = form_values(client.get(EDIT.format(id=mutualab.id)).get_data(as_text=True),
                       "entry-form")
    assert form["summary"] == "Résumé proposé par Camille."
    propose_change(client, mutualab, summary="Résumé revu par Camille.")
    propose_change(client, created.entry, city="Moulins-Lille")
    db.session.expire_all()
    assert edit.state == "pending" and edit.data["summary"] == "Résumé revu par Camille."
    assert db.session.scalars(select(Proposal).where(
        Proposal.entry_id == mutualab.id)).all() == [edit]  # the same proposal, changed
    assert snapshot(get_entry("mutualab")) == published  # still only proposed
    assert created.entry.city == "Moulins-Lille" and created.entry.moderation == "pending"
    logout(client)

    # Another contributor: neither page nor form of Camille's proposals.
    login(client, OTHER)
    assert client.get(f"/editor/proposals/{edit.id}").status_code == 403
    assert client.get(f"/editor/proposals/{created.id}").status_code == 403
    assert client.get(EDIT.format(id=created.entry_id)).status_code == 403
    token = csrf_token(client, "/editor/")
    refused = client.post(EDIT.format(id=created.entry_id), data={
        "csrf_token": token, "version": str(created.entry.version), "name": "Pris",
        "kind": "initiative", "city": "Lille"})
    assert refused.status_code == 403
    page = client.get("/editor/contributions").get_data(as_text=True)
    assert f'data-proposal="{edit.id}"' not in page
    # Their own edit of the same entry is theirs; Camille's stays as she left it.
    form = form_values(client.get(EDIT.format(id=mutualab.id)).get_data(as_text=True),
                       "entry-form")
    assert form["summary"] == published["summary"]
    propose_change(client, mutualab, summary="Résumé de Dominique.")
    db.session.expire_all()
    assert edit.data["summary"] == "Résumé revu par Camille."
    assert created.entry.name == "Repair Café de Moulins"
    assert len(db.session.scalars(select(Proposal).where(
        Proposal.entry_id == mutualab.id)).all()) == 2
