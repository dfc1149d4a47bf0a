"""Private things stay private: every role × every object × every page, one table.

Roles: anonymous, the contributor who owns a pending entry, another contributor (who
owns another one), editor, admin. Objects: a published entry, each contributor's
pending entry with a private comment, an anonymous suggestion with its message, a
draft and a published evaluation sheet, a deleted entry. Each page answers with the
status the policy gives, and a private string never appears in a body where the
policy says no (app.services.policy).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Entry, Evaluation, Proposal, User
from app.services import policy
from app.services.entries import create_entry, delete_entry, save_entry
from app.services.evaluations import save_evaluation
from app.services.proposals import accept, propose_entry
from app.services.revisions import Author
from app.services.tokens import create_token
from app.services.users import create_user
from tests.conftest import make_app
from tests.support.editor import ACCOUNTS, PASSWORD, login

ANON, OWNER, OTHER, EDITOR, ADMIN = "anonymous", "owner", "other", "editor", "admin"
ROLES = (ANON, OWNER, OTHER, EDITOR, ADMIN)
MEMBERS = {OWNER, OTHER, EDITOR, ADMIN}
EDITORS = {EDITOR, ADMIN}
OTHER_EMAIL = "dominique@example.org"

# Who may see each object (its content, history, name in lists).
SEES = {
    "published": set(ROLES),
    "own_pending": {OWNER, *EDITORS},
    "others_pending": {OTHER, *EDITORS},
    "suggestion": set(EDITORS),
    "deleted": set(EDITORS),
    "draft_sheet": set(EDITORS),
    "published_sheet": set(ROLES),
}
ENTRY_OBJECTS = ("published", "own_pending", "others_pending", "suggestion", "deleted")
SHEET_OBJECTS = ("draft_sheet", "published_sheet")


@dataclass
class Thing:
    """One object of the table: its pages, and the texts only its viewers may read."""

    key: str
    entry_id: str
    slug: str
    name: str
    secrets: tuple[str, ...]          # never shown to those who may not see it
    sheet_id: str | None = None


@pytest.fixture(scope="module")
def app(databases):
    """One database for this module (a copy of the demo template): its accounts and the
    table's objects are committed once (they were made again for each of the 17 tests),
    and each test's writes are rolled back (the conftest's `session`)."""
    return make_app(databases.demo("policy"))


@pytest.fixture(scope="module")
def made(app, password_hash) -> tuple[dict[str, Thing], dict[str, int]]:
    """The objects of the table and the ids of the accounts, committed once."""
    with app.app_context():
        users = {role: User(email=account.email, name=role.title(), role=account.role,
                            password_hash=password_hash)
                 for role, account in ACCOUNTS.items()}
        db.session.add_all(users.values())
        db.session.commit()
        things = make_world(users)
        ids = {role: user.id for role, user in users.items()}
        db.session.remove()
    return things, ids


@pytest.fixture
def accounts(session, made) -> dict[str, User]:
    """One account per role (tests.support.editor.ACCOUNTS), in the test's session."""
    return {role: session.get(User, user_id) for role, user_id in made[1].items()}


@pytest.fixture
def world(session, made) -> dict[str, Thing]:
    return made[0]


def make_world(accounts: dict[str, User]) -> dict[str, Thing]:
    other = create_user(OTHER_EMAIL, PASSWORD, "contributor", name="Dominique")
    editor = Author(user=accounts["editor"])
    things: dict[str, Thing] = {}

    published = create_entry({"name": "Lieu témoin publié", "kind": "third_place",
                              "lon": 3.06, "lat": 50.63, "city": "Lille"}, author=editor)
    save_entry(published, {"summary": "Un lieu ouvert"}, author=editor,
               expected_version=published.version)
    things["published"] = Thing("published", str(published.id), published.slug,
                                published.name, ())

    for key, name, owner, comment in (
            ("own_pending", "Atelier en attente de Camille", accounts["contributor"],
             "PRIVATE-CAMILLE-7f3a"),
            ("others_pending", "Projet en attente de Dominique", other,
             "PRIVATE-DOMINIQUE-91bc")):
        proposal = propose_entry({"name": name, "kind": "initiative", "city": "Lille"},
                                 author=Author(user=owner), comment=comment)
        # A second version, by its owner, so that the history has a diff to show.
        save_entry(proposal.entry, {"summary": f"Résumé de {name}"}, author=Author(user=owner),
                   expected_version=proposal.entry.version)
        things[key] = Thing(key, str(proposal.entry_id), proposal.entry.slug, name,
                            (name, comment))

    suggestion = propose_entry({"name": "Suggestion anonyme mystère", "kind": "initiative"},
                               author=Author(label="suggestion"),
                               comment="PRIVATE-SUGGESTER-5d2e",
                               contact="suggester-5d2e@example.org")
    save_entry(suggestion.entry, {"summary": "Relue par Edith"}, author=editor,
               expected_version=suggestion.entry.version)
    things["suggestion"] = Thing("suggestion", str(suggestion.entry_id),
                                 suggestion.entry.slug, "Suggestion anonyme mystère",
                                 ("Suggestion anonyme mystère", "PRIVATE-SUGGESTER-5d2e",
                                  "suggester-5d2e@example.org"))

    gone = create_entry({"name": "Lieu effacé c0de", "kind": "third_place", "lon": 3.06,
                         "lat": 50.63, "summary": "DELETED-SUMMARY-c0de"}, author=editor)
    delete_entry(gone, expected_version=gone.version, author=editor)
    things["deleted"] = Thing("deleted", str(gone.id), gone.slug, gone.name,
                              ("Lieu effacé c0de", "DELETED-SUMMARY-c0de"))

    for key, title, state, text in (
            ("draft_sheet", "DRAFT-SHEET-TITLE-3e8c", "draft", "DRAFT-SHEET-TEXT-b71d"),
            ("published_sheet", "Fiche publiée témoin", "published", "Gouvernance ouverte")):
        sheet = save_evaluation(published, None, {
            "title": title, "held_on": date(2024, 5, 1).isoformat(), "authors": "",
            "state": state, "answers": {"governance": {"level": 2, "strengths": text,
                                                       "limits": None, "stakes": None}}},
            author=editor, expected_version=None).evaluation
        # A second version, so that the history has a diff to show.
        save_evaluation(published, sheet, {
            "title": title, "held_on": date(2024, 5, 1).isoformat(), "authors": "Edith",
            "state": state, "answers": {"governance": {"level": 3, "strengths": text,
                                                       "limits": None, "stakes": None}}},
            author=editor, expected_version=sheet.version)
        things[key] = Thing(key, str(published.id), published.slug, title,
                            (title, text) if state == "draft" else (), str(sheet.id))
    db.session.commit()
    return things


def auth(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def log_in_as(client, role: str) -> None:
    if role == OWNER:
        login(client, "contributor")
    elif role == OTHER:
        login(client, OTHER_EMAIL)
    elif role in EDITORS:
        login(client, role)


# -- what each page answers ----------------------------------------------------------------

def entry_pages(t: Thing) -> dict[str, str]:
    return {
        "view": f"/entries/{t.slug}",
        "edit": f"/editor/entries/{t.entry_id}/edit",
        "history": f"/editor/entries/{t.entry_id}/history",
        "diff": f"/editor/entries/{t.entry_id}/history?from=1&to=2",
        "api": f"/api/v1/entries/{t.entry_id}",
    }


def sheet_pages(t: Thing) -> dict[str, str]:
    return {
        "view": f"/entries/{t.slug}/sheets/{t.sheet_id}",
        "edit": f"/editor/sheets/{t.sheet_id}/edit",
        "history": f"/editor/sheets/{t.sheet_id}/history",
        "diff": f"/editor/sheets/{t.sheet_id}/history?from=1&to=2",
        "api": f"/api/v1/entries/{t.slug}/evaluations",
    }


def expected_status(role: str, key: str, page: str) -> int:
    """The table: what the policy says each page answers."""
    sees = role in SEES[key]
    if page == "api":  # the public API: the public rule, whoever asks
        return {"deleted": 410, "published": 200, "draft_sheet": 200,
                "published_sheet": 200}.get(key, 404)
    if page == "view":  # the public pages; editors also read draft sheets there
        if key == "deleted":
            return 410
        if key == "draft_sheet":
            return 200 if role in EDITORS else 404
        return 200 if key in ("published", "published_sheet") else 404
    if role == ANON:
        return 302  # the editors' area: log in first
    if key in SHEET_OBJECTS and page == "edit":
        return 200 if role in EDITORS else 403
    if key == "deleted":  # editors: the deleted page, its history; others: the tombstone
        return 200 if role in EDITORS and page != "edit" else 410
    return 200 if sees else 403


@pytest.mark.parametrize("role", ROLES)
def test_every_page_follows_the_policy(client, world, role):
    log_in_as(client, role)
    failures = []
    for key, t in world.items():
        pages = sheet_pages(t) if key in SHEET_OBJECTS else entry_pages(t)
        for page, url in pages.items():
            response = client.get(url)
            body = response.get_data(as_text=True)
            want = expected_status(role, key, page)
            if response.status_code != want:
                failures.append(f"{key} {page} {url}: {response.status_code}, expected {want}")
            shown_to_role = role in SEES[key] and page != "api" and (
                want == 200 or (key == "deleted" and role in EDITORS))
            for secret in t.secrets:
                if secret in body and not shown_to_role:
                    failures.append(f"{key} {page} {url}: shows {secret!r}")
            if shown_to_role and want == 200 and page in ("history", "edit") \
                    and key in ENTRY_OBJECTS and t.name not in body:
                failures.append(f"{key} {page}: its own name is missing")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", ROLES)
def test_lists_follow_the_policy(client, world, role):
    """The dashboard (recent and searched) and the entry form's list of sheets."""
    log_in_as(client, role)
    failures = []
    pages = {"dashboard": "/editor/",
             "dashboard search": "/editor/?q=attente",
             "dashboard search 2": "/editor/?q=mystere",
             "entry form": f"/editor/entries/{world['published'].entry_id}/edit"}
    for page, url in pages.items():
        response = client.get(url)
        body = response.get_data(as_text=True)
        if role == ANON:
            if response.status_code != 302:
                failures.append(f"{page}: {response.status_code}, expected 302")
            continue
        assert response.status_code == 200, (page, response.status_code)
        for key, t in world.items():
            for secret in t.secrets:
                if secret in body and role not in SEES[key]:
                    failures.append(f"{page}: shows {secret!r} of {key}")
    dashboard = client.get("/editor/?q=attente").get_data(as_text=True)
    form = client.get(pages["entry form"]).get_data(as_text=True)
    if role == OWNER:
        assert world["own_pending"].name in dashboard
    if role == OTHER:
        assert world["others_pending"].name in dashboard
    if role in EDITORS:
        assert world["own_pending"].name in dashboard
        assert world["others_pending"].name in dashboard
        assert world["draft_sheet"].name in form
    if role != ANON:
        assert world["published_sheet"].name in form
    assert not failures, "\n".join(failures)


def test_history_hides_the_versions_before_publication(client, world, accounts):
    """An accepted suggestion is public, but its first version carries the suggester's
    message; a sheet published after drafts keeps its drafts to the editors."""
    entry = db.session.get(Entry, world["suggestion"].entry_id)
    proposal = db.session.scalar(select(Proposal).where(Proposal.entry_id == entry.id))
    accept(proposal, reviewer=accounts["editor"], expected_version=entry.version)
    sheet = db.session.get(Evaluation, world["draft_sheet"].sheet_id)
    save_evaluation(sheet.entry, sheet, {
        "title": "Fiche enfin publiée", "held_on": "2024-05-01", "authors": "Edith",
        "state": "published", "answers": {"governance": {"level": 3, "strengths": "Ouverte",
                                                         "limits": None, "stakes": None}}},
        author=Author(user=accounts["editor"]), expected_version=sheet.version)

    login(client, "contributor")
    page = client.get(f"/editor/entries/{entry.id}/history")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Suggestion anonyme mystère" in body
    assert "PRIVATE-SUGGESTER-5d2e" not in body and "suggester-5d2e" not in body
    for url in (f"/editor/entries/{entry.id}/history?from=1&to=2",
                f"/editor/entries/{entry.id}/history?to=1"):
        assert "PRIVATE-SUGGESTER-5d2e" not in client.get(url).get_data(as_text=True), url
    page = client.get(f"/editor/sheets/{sheet.id}/history")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Fiche enfin publiée" in body
    assert "DRAFT-SHEET-TITLE-3e8c" not in body and "DRAFT-SHEET-TEXT-b71d" not in body
    for url in (f"/editor/sheets/{sheet.id}/history?from=1&to=3",
                f"/editor/sheets/{sheet.id}/history?to=1"):
        text = client.get(url).get_data(as_text=True)
        assert "DRAFT-SHEET-TITLE-3e8c" not in text and "DRAFT-SHEET-TEXT-b71d" not in text
    client.post("/logout", data={"csrf_token": _token(client)})

    login(client, "editor")  # the editors keep every version
    body = client.get(f"/editor/entries/{entry.id}/history?to=1").get_data(as_text=True)
    assert "PRIVATE-SUGGESTER-5d2e" in body


def _token(client) -> str:
    from tests.support.editor import csrf_token

    return csrf_token(client, "/editor/")


def test_api_writes_do_not_reveal_what_the_token_may_not_see(client, world, accounts):
    other = db.session.scalar(select(User).where(User.email == OTHER_EMAIL))
    token = create_token(other, "other's script")[0]
    mine = world["others_pending"]
    theirs = world["own_pending"]
    for key, t in (("own_pending", theirs), ("suggestion", world["suggestion"]),
                   ("deleted", world["deleted"])):
        response = client.patch(f"/api/v1/entries/{t.entry_id}", json={"city": "Roubaix"},
                                headers=auth(token, **{"If-Match": '"v1"'}))
        want = 410 if key == "deleted" else 404
        assert response.status_code == want, (key, response.status_code)
        for secret in t.secrets:
            assert secret not in response.get_data(as_text=True)
    # Their own waiting entry: they may still correct it, and it stays pending.
    entry = db.session.get(Entry, mine.entry_id)
    response = client.patch(f"/api/v1/entries/{mine.entry_id}",
                            json={"summary": "Corrigé", "moderation": "published"},
                            headers=auth(token, **{"If-Match": f'"v{entry.version}"'}))
    assert response.status_code == 200, response.get_data(as_text=True)
    db.session.expire_all()
    assert (entry.summary, entry.moderation) == ("Corrigé", "pending")


@pytest.mark.parametrize("role", ROLES)
def test_each_predicate_and_its_sql_condition_agree(world, accounts, role):
    """A list shows exactly what its pages show: for every entry, sheet and proposal of the
    database, `can_view_*(user, x)` is true exactly when `visible_*_clause(user)` keeps x."""
    user = {ANON: None, OWNER: accounts["contributor"], EDITOR: accounts["editor"],
            ADMIN: accounts["admin"],
            OTHER: db.session.scalar(select(User).where(User.email == OTHER_EMAIL))}[role]
    for model, predicate, clause in (
            (Entry, policy.can_view_entry, policy.visible_entries_clause),
            (Evaluation, policy.can_view_sheet, policy.visible_sheets_clause),
            (Proposal, policy.can_view_proposal, policy.visible_proposals_clause)):
        everything = db.session.scalars(select(model)).all()
        listed = set(db.session.scalars(select(model.id).where(clause(user))))
        seen = {x.id for x in everything if predicate(user, x)}
        assert listed == seen, (model.__name__, role)
    # And the table's objects are on the right side of the line.
    ids = set(db.session.scalars(select(Entry.id).where(policy.visible_entries_clause(user))))
    for key in ENTRY_OBJECTS:
        assert (uuid.UUID(world[key].entry_id) in ids) == (role in SEES[key]), key
