"""The API and the forms agree: every action × role × entry state, done both ways.

Each cell does one action through the JSON API (a bearer token) on one entry and
through the HTML form (a logged-in session, the form's CSRF token, as a browser
sends it) on a twin entry in the same state, and asserts the same outcome: the same
kind of answer (written, proposed, unchanged, refused, gone…) and the same effect
on what is stored (the entry's changed fields, its proposals). Both sides ask
app.services.policy, so a rule changed there changes both.

Roles: anonymous, the contributor who proposed the entry ("author"), another
contributor, editor, admin. States: published (the author's accepted proposal),
pending (the author's proposal), rejected (the author's refused proposal), deleted
(a published entry, deleted). The API has no revert, proposal queue or sheet
writes: those are the forms' alone and are not in this table. 401, 403 and 404 all
count as "refused" (the API hides what a user may not see with a 404 and asks for a
token with a 401, where pages say 403); the status is kept for the report.

One database for the module; its accounts, tokens, logged-in browsers, their CSRF
tokens and the table's entries (one per state and channel) are made once, and each
cell's writes are rolled back: every cell starts from the entries as they were made
(make_entry checks their version). AGREEMENT_TABLE=<file> appends each cell's
outcomes to <file> as a Markdown table row.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.models import Entry, Proposal, User
from app.services.entries import CONTENT_KEYS, delete_entry, snapshot
from app.services.proposals import accept, propose_edit, propose_entry, reject
from app.services.revisions import Author
from app.services.tokens import create_token
from tests.conftest import make_app
from tests.support.editor import ACCOUNTS, csrf_token, form_pairs, login, replaced

ANON, AUTHOR, OTHER, EDITOR, ADMIN = "anonymous", "author", "contributor", "editor", "admin"
ROLES = (ANON, AUTHOR, OTHER, EDITOR, ADMIN)
STATES = ("published", "pending", "rejected", "deleted")
OTHER_EMAIL = "dominique@example.org"


@pytest.fixture(scope="module")
def app(databases):
    """One database for this module (a copy of the demo template)."""
    return make_app(databases.demo("agree"))


@dataclass
class World:
    """The accounts of the table, committed once for the module: their API tokens, a
    browser session of each (logging in costs an argon2 check, a tenth of a second) with
    a CSRF token it got from a page it may open, and the entries the cells act on."""

    user_ids: dict[str, int]
    tokens: dict[str, str]
    browsers: dict[str, Any]
    csrf: dict[str, str]
    entries: dict[tuple[str, str], tuple[uuid.UUID, Any]]  # (id, as_made())

    def user(self, role: str) -> User:
        return db.session.get(User, self.user_ids[role])


@pytest.fixture(scope="module")
def world(app, password_hash) -> World:
    emails = {AUTHOR: ACCOUNTS["contributor"].email, OTHER: OTHER_EMAIL,
              EDITOR: ACCOUNTS["editor"].email, ADMIN: ACCOUNTS["admin"].email}
    with app.app_context():
        users = {role: User(email=email, name=role.title(),
                            role="contributor" if role in (AUTHOR, OTHER) else role,
                            password_hash=password_hash) for role, email in emails.items()}
        db.session.add_all(users.values())
        db.session.commit()
        tokens = {role: create_token(user, "agreement")[0] for role, user in users.items()}
        ids = {role: user.id for role, user in users.items()}
        entries = {}
        for state, channels in ENTRIES.items():
            for channel in channels:
                entry = build_entry(users[AUTHOR], users[EDITOR], state, channel)
                entries[state, channel] = (entry.id, as_made(entry))
        db.session.remove()
    browsers = {ANON: app.test_client()}
    for role, email in emails.items():
        browsers[role] = app.test_client()
        login(browsers[role], email)
    csrf = {role: any_token(client) for role, client in browsers.items()}
    return World(ids, tokens, browsers, csrf, entries)


@pytest.fixture
def cell(session, world) -> World:
    """One cell's writes are undone after it (the conftest's rolled-back session)."""
    return world


# The entries the cells act on, one per state and channel (a cell acts through the API on
# one and through the form on its twin): made once, as they were when each cell made its own.
ENTRIES = {state: ("api", "form", "links") if state != "deleted" else ("api", "form")
           for state in STATES}


def make_entry(world: World, state: str, channel: str) -> Entry:
    """The module's entry in `state` for `channel`, as it was made: what an earlier cell
    wrote to it was rolled back (checked)."""
    entry_id, made = world.entries[state, channel]
    entry = db.session.get(Entry, entry_id)
    assert as_made(entry) == made, f"{state} {channel}: an earlier cell's write was kept"
    return entry


def as_made(entry: Entry) -> Any:
    """What any write leaves a trace in: the version (every change of the entry moves it)
    and the proposals."""
    return entry.version, entry.deleted_at, proposals_state(entry.id)


def build_entry(author: User, editor: User, state: str, channel: str) -> Entry:
    """An entry proposed by the author, then brought to `state` by the editor."""
    proposal = propose_entry({"name": f"Atelier {state} {channel}", "kind": "initiative",
                              "city": "Lille", "summary": "Au début"},
                             author=Author(user=author), comment="Merci")
    entry = proposal.entry
    if state in ("published", "deleted"):
        accept(proposal, reviewer=editor, expected_version=entry.version)
    elif state == "rejected":
        reject(proposal, reviewer=editor, comment="Hors du périmètre")
    if state == "deleted":
        delete_entry(entry, expected_version=entry.version, author=Author(user=editor))
    db.session.commit()
    return entry


# -- what is stored ---------------------------------------------------------------------------

def proposals_state(entry_id: uuid.UUID) -> list[tuple[str, str, tuple[str, ...]]]:
    rows = db.session.scalars(select(Proposal).where(Proposal.entry_id == entry_id)
                              .order_by(Proposal.id)).all()
    return [(p.action, p.state, tuple(sorted(k for k, v in (p.data or {}).items()
                                             if k != "moderation")) if p.data else ())
            for p in rows]


def stored(entry_id: uuid.UUID) -> dict[str, Any]:
    db.session.expire_all()
    entry = db.session.get(Entry, entry_id)
    shot = snapshot(entry)
    return {"content": {k: shot[k] for k in CONTENT_KEYS}, "deleted": entry.deleted_at
            is not None, "version": entry.version, "proposals": proposals_state(entry_id)}


def effect(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What changed, comparable across the two twin entries (their slugs differ)."""
    changed = {k: ("<changed>" if k == "slug" else v) for k, v in after["content"].items()
               if before["content"][k] != v}
    return {"changed": changed, "deleted": (before["deleted"], after["deleted"]),
            "new_version": after["version"] != before["version"],
            "proposals": (before["proposals"], after["proposals"])}


@dataclass(frozen=True)
class Outcome:
    kind: str          # written, proposed, unchanged, refused, gone, shown, invalid, …
    status: int        # the HTTP status, for the report (403 and 404 are both "refused")
    effect: Any

    def same_as(self, other: Outcome) -> bool:
        return (self.kind, self.effect) == (other.kind, other.effect)


def classify(status: int, change: dict[str, Any], *, success: set[int]) -> str:
    if status in success:
        if change["new_version"] or change["deleted"][0] != change["deleted"][1]:
            return "written"
        if change["proposals"][0] != change["proposals"][1]:
            return "proposed"
        return "unchanged"
    return {401: "refused", 403: "refused", 404: "refused", 302: "refused", 410: "gone",
            422: "invalid", 409: "conflict", 400: "bad request"}.get(status, str(status))


# -- the two channels -----------------------------------------------------------------------

def api_client(app, world: World, role: str):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {world.tokens[role]}"} if role != ANON else {}
    return client, headers


def form_client(world: World, role: str):
    return world.browsers[role]


def any_token(client) -> str:
    """A CSRF token from a page anyone may open (the login page, or the header's logout
    form once logged in): what a forged or replayed form would carry."""
    page = client.get("/login")
    return csrf_token(client, "/login" if page.status_code == 200 else "/editor/")


def browser_pairs(world: World, role: str, entry: Entry) -> list[tuple[str, str]]:
    """What the entry form posts: the form as served, or (when the form is refused to this
    user) what the form would hold, with a token from a page the user may open."""
    page = form_client(world, role).get(f"/editor/entries/{entry.id}/edit")
    if page.status_code == 200:
        return form_pairs(page.get_data(as_text=True), "entry-form")
    from app.editor.forms import entry_form_from_entry

    form = entry_form_from_entry(entry, snapshot(entry), None)
    pairs = [(k, v) for k, v in form.values.items() if k not in ("slug", "moderation")]
    pairs += [("tags", t) for t in form.tags]
    return [*pairs, ("version", str(entry.version)), ("csrf_token", world.csrf[role])]


CHANGES: dict[str, Callable[[str], dict[str, str]]] = {
    "edit": lambda channel: {"summary": "Résumé revu"},
    "slug": lambda channel: {"slug": f"nouvelle-adresse-{channel}"},
    "publish": lambda channel: {"moderation": "published"},
    "reject": lambda channel: {"moderation": "rejected"},
}


def api_change(app, world, role, entry, action) -> Outcome:
    client, headers = api_client(app, world, role)
    before = stored(entry.id)
    response = client.patch(f"/api/v1/entries/{entry.id}", json=CHANGES[action]("api"),
                            headers={**headers, "If-Match": f'"v{entry.version}"'})
    change = effect(before, stored(entry.id))
    kind = classify(response.status_code, change, success={200, 202})
    return Outcome(kind, response.status_code, change)


def form_change(app, world, role, entry, action) -> Outcome:
    client = form_client(world, role)
    pairs = browser_pairs(world, role, entry) if role != ANON else [
        ("version", str(entry.version)), ("csrf_token", world.csrf[role])]
    before = stored(entry.id)
    response = client.post(f"/editor/entries/{entry.id}/edit",
                           data=MultiDict(replaced(pairs, **CHANGES[action]("form"))))
    change = effect(before, stored(entry.id))
    kind = classify(response.status_code, change, success={303})
    return Outcome(kind, response.status_code, change)


def api_delete(app, world, role, entry, action) -> Outcome:
    client, headers = api_client(app, world, role)
    before = stored(entry.id)
    response = client.delete(f"/api/v1/entries/{entry.id}",
                             headers={**headers, "If-Match": f'"v{entry.version}"'})
    change = effect(before, stored(entry.id))
    return Outcome(classify(response.status_code, change, success={204}),
                   response.status_code, change)


def form_delete(app, world, role, entry, action) -> Outcome:
    client = form_client(world, role)
    before = stored(entry.id)
    response = client.post(f"/editor/entries/{entry.id}/delete",
                           data={"version": str(entry.version), "comment": "Doublon",
                                 "csrf_token": world.csrf[role]})
    change = effect(before, stored(entry.id))
    return Outcome(classify(response.status_code, change, success={303}),
                   response.status_code, change)


def view_kind(status: int) -> str:
    return {200: "shown", 404: "hidden", 410: "gone"}.get(status, str(status))


def api_view(app, world, role, entry, action) -> Outcome:
    client, headers = api_client(app, world, role)
    response = client.get(f"/api/v1/entries/{entry.id}", headers=headers)
    return Outcome(view_kind(response.status_code), response.status_code, None)


def form_view(app, world, role, entry, action) -> Outcome:
    client = form_client(world, role)
    response = client.get(f"/entries/{entry.id}", follow_redirects=True)
    return Outcome(view_kind(response.status_code), response.status_code, None)


ACTIONS = {
    "view": (api_view, form_view),
    "edit": (api_change, form_change),
    "slug": (api_change, form_change),
    "publish": (api_change, form_change),
    "reject": (api_change, form_change),
    "delete": (api_delete, form_delete),
}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS)
def test_an_action_on_an_entry_has_the_same_outcome_through_the_api_and_the_form(
        app, cell, action, role, state):
    world = cell
    through_api, through_form = ACTIONS[action]
    by_api = through_api(app, world, role, make_entry(world, state, "api"), action)
    by_form = through_form(app, world, role, make_entry(world, state, "form"), action)
    record(action, role, state, by_api, by_form)
    assert by_api.same_as(by_form), f"API {by_api} ≠ form {by_form}"


def record(action: str, role: str, state: str, by_api: Outcome, by_form: Outcome) -> None:
    """With AGREEMENT_TABLE set, append the cell to that file (the table of the report)."""
    path = os.environ.get("AGREEMENT_TABLE")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"| {action} | {role} | {state} | {by_api.kind} {by_api.status} | "
                      f"{by_form.kind} {by_form.status} | "
                      f"{'same' if by_api.same_as(by_form) else 'DIFFERENT'} |\n")


# -- creating ---------------------------------------------------------------------------------

NEW = {"kind": "initiative", "city": "Lille", "summary": "Un nouveau lieu"}
CREATIONS = {
    "create": {},
    "create_with_slug": {"slug": "adresse-choisie-{channel}"},
    "create_published": {"moderation": "published"},
}


def created(name: str) -> dict[str, Any] | None:
    db.session.expire_all()
    entry = db.session.scalar(select(Entry).where(Entry.name == name))
    if entry is None:
        return None
    return {"moderation": entry.moderation,
            "slug_chosen": entry.slug.startswith("adresse-choisie"),
            "proposals": [(a, s) for a, s, _ in proposals_state(entry.id)]}


def create_kind(status: int, made: dict[str, Any] | None, success: set[int]) -> str:
    if status in success:
        return "created" if made else "nothing"
    return classify(status, {}, success=set())


def api_create(app, world, role, action) -> Outcome:
    client, headers = api_client(app, world, role)
    name = f"Nouveau lieu {action} api"
    extra = {k: v.format(channel="api") for k, v in CREATIONS[action].items()}
    response = client.post("/api/v1/entries", json={**NEW, "name": name, **extra},
                           headers=headers)
    made = created(name)
    return Outcome(create_kind(response.status_code, made, {201}), response.status_code,
                   made)


def form_create(app, world, role, action) -> Outcome:
    client = form_client(world, role)
    page = client.get("/editor/entries/new")
    if page.status_code == 200:
        pairs = form_pairs(page.get_data(as_text=True), "entry-form")
    else:
        pairs = [("csrf_token", world.csrf[role])]
    name = f"Nouveau lieu {action} form"
    extra = {k: v.format(channel="form") for k, v in CREATIONS[action].items()}
    response = client.post("/editor/entries/new",
                           data=MultiDict(replaced(pairs, **NEW, name=name, **extra)))
    made = created(name)
    return Outcome(create_kind(response.status_code, made, {303}), response.status_code,
                   made)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", CREATIONS)
def test_creating_an_entry_has_the_same_outcome_through_the_api_and_the_form(
        app, cell, action, role):
    world = cell
    by_api = api_create(app, world, role, action)
    by_form = form_create(app, world, role, action)
    record(action, role, "new", by_api, by_form)
    assert by_api.same_as(by_form), f"API {by_api} ≠ form {by_form}"


# -- links follow the same policy ----------------------------------------------------------------

@pytest.mark.parametrize("state", STATES[:3])
def test_the_pages_show_an_edit_link_only_where_the_form_opens(app, cell, state):
    """The dashboard, the history page and the public page link to the entry form only
    when the form would open for this user (app.services.policy.can_edit_entry)."""
    world = cell
    entry = make_entry(world, state, "links")
    client = form_client(world, AUTHOR)
    link = f"/editor/entries/{entry.id}/edit"
    opens = client.get(link).status_code == 200
    assert opens == (state != "rejected")
    for page in ("/editor/", f"/editor/entries/{entry.id}/history",
                 f"/entries/{entry.id}"):
        response = client.get(page, follow_redirects=True)
        if response.status_code != 200:
            continue  # the public page of an entry that waits or was refused: 404
        assert (f'href="{link}"' in response.get_data(as_text=True)) == opens, page


# -- a proposal that waits ------------------------------------------------------------------------

@pytest.mark.parametrize("role", (AUTHOR, OTHER))
def test_editing_a_published_entry_with_a_pending_proposal_agrees(app, cell, role):
    """The author changes their own waiting proposal (the form opens on it; a PATCH
    changes it the same way, keeping what it proposed before); another contributor's
    edit is a proposal of their own and leaves the author's as it was."""
    world = cell
    seen = []
    for channel, through in (("api", api_change), ("form", form_change)):
        entry = make_entry(world, "published", channel)
        propose_edit(entry, {"city": "Roubaix"}, author=Author(user=world.user(AUTHOR)),
                     base_version=entry.version)
        db.session.commit()
        outcome = through(app, world, role, entry, "edit")
        db.session.expire_all()
        pending = db.session.scalars(select(Proposal).where(
            Proposal.entry_id == entry.id, Proposal.state == "pending")
            .order_by(Proposal.id)).all()
        seen.append((outcome.kind, [(p.author_id == world.user_ids[AUTHOR],
                                     p.data["summary"], p.data["city"]) for p in pending]))
    assert seen[0] == seen[1], f"API {seen[0]} ≠ form {seen[1]}"
    if role == AUTHOR:
        assert seen[0][1] == [(True, "Résumé revu", "Roubaix")]
    else:
        assert seen[0][1] == [(True, "Au début", "Roubaix"), (False, "Résumé revu", "Lille")]
