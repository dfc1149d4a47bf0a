"""Every write route of the site refuses anonymous users and wrong roles (403) and a missing
or wrong CSRF token (400), and writes nothing when it refuses.

The routes are read from the application's URL map, so a new write route that forgets
`role_required` fails here.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.auth.roles import ROLE_RANK
from app.extensions import db
from app.models import Evaluation, Proposal, Revision, Tag
from app.services.entries import get_entry
from app.services.proposals import propose_edit
from app.services.revisions import Author
from tests.support.editor import csrf_token, login

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Open to everyone on purpose: logging in and out, suggesting a place and reporting an error
# (anonymous: tests/unit/test_error_reports.py), and the pages of a mailed link (forgotten
# password, new password, invitation: tests/unit/test_mail.py).
PUBLIC_WRITES = {"auth.login", "auth.logout", "editor.suggest", "editor.report_entry",
                 "auth.forgot_password", "auth.reset_password", "auth.accept_invitation"}


def write_routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, rule, method) of every HTML write route."""
    routes = []
    for rule in app.url_map.iter_rules():
        methods = (rule.methods or set()) & WRITE_METHODS
        if not methods or rule.rule.startswith(("/api", "/ogc")):
            continue
        if rule.endpoint in PUBLIC_WRITES:
            continue
        routes.extend((rule.endpoint, rule.rule, m) for m in sorted(methods))
    return routes


@pytest.fixture
def targets(session, accounts):
    """Real ids for the routes' parameters: an entry, a sheet, a pending proposal."""
    entry = get_entry("la-coroutine")
    sheet = session.scalar(select(Evaluation).where(Evaluation.entry_id == entry.id))
    proposal = propose_edit(get_entry("mutualab"), {"summary": "Une autre présentation."},
                            author=Author(user=accounts["contributor"]),
                            base_version=get_entry("mutualab").version)
    return {"entry_id": entry.id, "sheet_id": sheet.id, "proposal_id": proposal.id,
            # An import run's twin: refused before the run is even looked up.
            "run_id": 0, "index": 0, "user_id": accounts["editor"].id,
            # A webhook subscriber that does not exist: refused before it is looked up.
            "subscriber_id": 0,
            # An evaluation key and a tag (their pages).
            "slug": "governance", "tag_id": session.scalar(select(Tag.id).limit(1)),
            # A report: refused before it is looked up, like the run.
            "report_id": 0,
            # A registered source: refused before it is looked up.
            "name": "no-such-source",
            # A twin link (app/editor/links.py): refused before it is looked up.
            "alias_id": "00000000-0000-4000-8000-000000000000"}


def url_for_rule(rule: str, targets: dict) -> str:
    url = rule
    for name, value in targets.items():
        for converter in ("uuid", "int"):
            url = url.replace(f"<{converter}:{name}>", str(value))
        url = url.replace(f"<{name}>", str(value))
    assert "<" not in url, url
    return url


def revision_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Revision))


def test_the_write_routes_are_found_and_all_declare_a_role(app):
    routes = write_routes(app)
    assert len(routes) >= 12
    for endpoint, rule, _ in routes:
        view = app.view_functions[endpoint]
        assert getattr(view, "required_role", None) in ROLE_RANK, (
            f"{rule} ({endpoint}) writes without role_required")


def test_anonymous_and_wrong_roles_get_403_and_nothing_is_written(app, client, targets):
    before = revision_count(), db.session.scalar(select(func.count()).select_from(Proposal))
    routes = [(rule, method, app.view_functions[endpoint].required_role)
              for endpoint, rule, method in write_routes(app)]
    # Anonymous, with a valid CSRF token: refused by role, not by token.
    token = csrf_token(client)
    for rule, method, _needed in routes:
        url = url_for_rule(rule, targets)
        response = client.open(url, method=method, data={"csrf_token": token, "version": "1"})
        assert response.status_code == 403, (url, response.status_code)
    # Each role below what a route needs: one login per role, every such route tried.
    checked = set()
    for role, rank in ROLE_RANK.items():
        below = [(rule, method) for rule, method, needed in routes if rank < ROLE_RANK[needed]]
        if not below:
            continue
        login(client, role)
        token = csrf_token(client, "/editor/")
        for rule, method in below:
            url = url_for_rule(rule, targets)
            response = client.open(url, method=method,
                                   data={"csrf_token": token, "version": "1", "to_version": "1"})
            assert response.status_code == 403, (url, role, response.status_code)
            checked.add((rule, method, role))
        client.post("/logout", data={"csrf_token": token})
    assert checked == {(rule, method, role) for rule, method, needed in routes
                       for role, rank in ROLE_RANK.items() if rank < ROLE_RANK[needed]}
    assert (revision_count(), db.session.scalar(select(func.count()).select_from(Proposal))) \
        == before


def test_a_missing_or_wrong_csrf_token_gets_400_even_with_the_right_role(app, client, targets):
    before = revision_count()
    login(client, "admin")  # admins may use every route
    good = csrf_token(client, "/editor/")
    for endpoint, rule, method in write_routes(app):
        url = url_for_rule(rule, targets)
        missing = client.open(url, method=method, data={"version": "1"})
        assert missing.status_code == 400, (url, missing.status_code)
        wrong = client.open(url, method=method,
                            data={"csrf_token": good[:-4] + "AAAA", "version": "1"})
        assert wrong.status_code == 400, (url, wrong.status_code)
        assert "security token" in wrong.get_data(as_text=True) or \
            "jeton de sécurité" in wrong.get_data(as_text=True)
    assert revision_count() == before


def test_public_writes_need_a_csrf_token_too(client, accounts):
    from tests.support.editor import ACCOUNTS

    no_token = client.post("/login", data={"email": ACCOUNTS["editor"].email,
                                           "password": ACCOUNTS["editor"].password})
    assert no_token.status_code == 400
    assert client.post("/suggest", data={"name": "Sans jeton", "kind": "commons"}).status_code \
        == 400
    assert client.post("/password/forgot", data={"email": ACCOUNTS["editor"].email}
                       ).status_code == 400
    assert client.post("/logout").status_code == 400
