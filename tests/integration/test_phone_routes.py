"""Every page, for every role, on a 360 px phone: no sideways scroll.

The routes come from app.url_map (every GET rule), so a new page is checked without
touching this file; their path parameters are filled from the demo data (and from a
proposal, an import run and account links made here). What is not a page (JSON,
files, the static files) is listed in SKIPPED with why; a GET rule whose path
parameters cannot be filled fails the test, so nothing is left out silently. A route
added later that answers JSON, a stream or a file is passed over when it answers.

One tab for all the pages of a role (handed on to the next role once reset), no
sleeps: each page is measured once its `load` event has fired (scripts run, styles
applied). A document is measured once in the module: the application is asked first,
in the test process, without a browser, and a page whose document is one measured
already (but for what is not drawn: NOT_DRAWN) is not loaded again; that measure counts
for the role that meets it again. The pages an editor and an admin share are the same
document (the header names the account only in a tooltip), and so are error pages that
name only the role. The visitor without an account does not load what sends them to the
login form (measured at /login). Accounts log in through the login form's POST, not the
page (the page itself is measured for the visitor).
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import select

from app.extensions import db
from tests import demo_data
from tests.browser_support import page_maker, post_login
from tests.support.api import fresh_app
from tests.support.editor import login

PASSWORD = "a password for the phone test"
ROLES = ("anonymous", "contributor", "editor", "admin")
EMAILS = {"contributor": "camille@example.org", "editor": "edith@example.org",
          "admin": "ada@example.org"}
WIDTH = 360

# Endpoints that answer something other than a page, and why they are not measured.
SKIPPED = {
    "static": "files (CSS, scripts, images)",
    "health.healthz": "JSON health check",
    "web.markers": "JSON for the map script",
    "web.map_cells": "JSON for the map script (the view's clusters, past the single file)",
    "web.map_blocks": "JSON for the map script (4 × 4 tiles of clusters in one answer)",
    "web.entry_opening": "JSON for the map's popup (opening hours)",
    "editor.search_json": "JSON for the entry form's relation search",
    "editor.suggest_twins": "JSON for the duplicate warning",
    "api-docs.openapi_json": "the OpenAPI document (JSON)",
}
# Endpoint families that are JSON or file downloads (CSV, ZIP, GeoJSON…).
SKIPPED_PREFIXES = {
    "api_v1.": "the JSON API",
    "exports.": "file downloads (CSV, ZIP, GeoJSON, JSON-LD)",
    "gogocarto.": "the GoGoCarto elements API (JSON)",
}


# Pages without the site's header (no account menu): the same for every role, so they
# are measured once, for the anonymous visitor.
SAME_FOR_EVERYONE = ("/ogc", "/api/docs", "/api/redoc", "/embed")


def skip_reason(endpoint: str) -> str | None:
    if endpoint in SKIPPED:
        return SKIPPED[endpoint]
    return next((why for prefix, why in SKIPPED_PREFIXES.items()
                 if endpoint.startswith(prefix)), None)


@pytest.fixture(scope="module")
def server(databases, browser_origin):
    app = fresh_app(databases, "phone_routes")
    # Static files kept by the browser between pages, as the deployment's nginx lets it.
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 3600
    with app.app_context():
        values = make_world()
        db.session.remove()
    with browser_origin.serve(app) as live:
        live.values = values
        yield live
    with app.app_context():
        db.engine.dispose()


def make_world() -> dict[str, Any]:
    """Users of each role, and one object of each kind a route names."""
    from app.mail.links import invitation_token, reset_token
    from app.models import Evaluation, IdentityLink, ImportRun, Tag
    from app.services.entries import get_entry
    from app.services.link_reasons import link_reason
    from app.services.proposals import propose_entry
    from app.services.revisions import Author
    from app.services.users import create_user

    users = {role: create_user(email, PASSWORD, role, name=role.title())
             for role, email in EMAILS.items()}
    entry = get_entry("la-coroutine")
    sheet = db.session.scalar(select(Evaluation).where(Evaluation.entry_id == entry.id))
    proposal = propose_entry({"name": "Jardin partagé des Moulins", "kind": "initiative",
                              "summary": "Un jardin ouvert à tous les voisins."},
                             author=Author(user=users["contributor"]))
    run = ImportRun(origin="csv", location="lieux.csv", status="succeeded", created=1)
    db.session.add(run)
    # A twin link, so that the entry's links page and the recent links show one.
    db.session.add(IdentityLink(entity_type="entry", alias_id=uuid.uuid4(), entity_id=entry.id,
                                origin="remote:lille-metropole-des-communs", reason=link_reason(
                                    "near", meters=12, similarity=0.74,
                                    name="La Coroutine, tiers-lieu numérique")))
    db.session.commit()
    return {
        "ref": "la-coroutine", "entry_id": entry.id, "sheet_id": sheet.id,
        "proposal_id": proposal.id, "run_id": run.id,
        ("web.tag_page", "slug"): "coworking", ("web.key_page", "slug"): "governance",
        ("editor.edit_key", "slug"): "governance", ("editor.key_history", "slug"): "governance",
        "tag_id": db.session.scalar(select(Tag.id).where(Tag.slug == "coworking")),
        ("auth.accept_invitation", "token"): invitation_token(
            "nouvelle@example.org", "contributor", users["admin"]),
        ("auth.reset_password", "token"): reset_token(users["contributor"]),
        "collection_id": "entries", "feature_id": str(entry.id),
    }


def page_urls(app: Flask, values: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """(URLs of every GET page, {rule: why it is skipped})."""
    urls, skipped, unfilled = [], {}, []
    adapter = app.url_map.bind("localhost")
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in (rule.methods or ()):
            continue
        why = skip_reason(rule.endpoint)
        if why:
            skipped[rule.rule] = why
            continue
        args = {}
        for name in rule.arguments:
            value = values.get((rule.endpoint, name), values.get(name))
            if value is None:
                unfilled.append(f"{rule.rule} ({name})")
            args[name] = value
        if not unfilled:
            urls.append(adapter.build(rule.endpoint, args))
    assert not unfilled, f"no value for these path parameters: {unfilled}"
    return urls, skipped


# The widest elements that stick out, for the failure message.
OVERFLOW_JS = """() => {
  // The layout viewport: on a phone, innerWidth grows with what sticks out (the page is
  // zoomed out to show it), the document element's client width stays the screen's.
  const width = document.documentElement.clientWidth;
  const excess = document.documentElement.scrollWidth - width;
  if (excess <= 0) return null;
  const culprits = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.right > width + 1 && r.width > 0) {
      culprits.push([Math.round(r.right), el.tagName.toLowerCase() +
        (el.id ? '#' + el.id : '') +
        (el.classList.length ? '.' + [...el.classList].join('.') : '')]);
    }
  }
  culprits.sort((a, b) => b[0] - a[0]);
  return {excess, culprits: culprits.slice(0, 4)};
}"""


def sends_to_login(client: FlaskClient, url: str) -> bool:
    """Whether `url` redirects this client (in the test process, no browser) to the login
    form: a redirect answers before any page is drawn, so asking costs little."""
    response = client.get(url)
    response.close()
    return response.status_code in (301, 302, 303, 307) and \
        urlsplit(response.location).path == "/login"


# What differs between two answers without changing what is drawn: link targets (the
# language links name the page's own address), CSRF tokens and tooltips (the logout
# button's names the account).
NOT_DRAWN = re.compile(r'((?:href|(?<=\s)title|name="csrf_token" value)=")[^"]*')


def document_key(client: FlaskClient, url: str) -> tuple[int, str] | None:
    """What `client` gets at `url`, as (status, the HTML but for what is not drawn); None
    for what the browser would not measure as such: a redirect (it follows it), JSON, a
    stream, a file."""
    response = client.get(url)
    try:
        if response.status_code in (301, 302, 303, 307, 308) or \
                "text/html" not in response.content_type:
            return None
        return response.status_code, NOT_DRAWN.sub(r"\1", response.get_data(as_text=True))
    finally:
        response.close()


@pytest.fixture(scope="module")
def measured() -> dict[tuple[int, str], tuple[str, str, Any]]:
    """The documents this module's browser measured: {document_key: (role, url, what
    stuck out or None)}, so that a later role sharing a document takes its measure."""
    return {}


@pytest.fixture(scope="module")
def login_first(server) -> list[str]:
    """The pages that send the visitor without an account to the login form."""
    urls, _ = page_urls(server.app, server.values)
    visitor = server.app.test_client()
    found = [url for url in urls if sends_to_login(visitor, url)]
    assert "/editor/" in found and "/" not in found
    return found


@pytest.mark.parametrize("role", ROLES)
def test_every_page_fits_a_360_px_phone(browser, tabs, server, login_first, measured, role):
    urls, skipped = page_urls(server.app, server.values)
    assert len(urls) > 30 and "/api/v1/exports/entries.csv" in skipped
    member = server.app.test_client()
    if role == "anonymous":
        urls = [url for url in urls if url not in login_first]
    else:  # pages without the header were measured for the visitor
        login(member, EMAILS[role], PASSWORD)
        urls = [url for url in urls if not url.startswith(SAME_FOR_EVERYONE)]
    overflowing, reached, browsed, again = [], [], [], []
    with page_maker(browser, server.url, height=740, tabs=tabs) as make:
        page = make(width=WIDTH, is_mobile=True, has_touch=True).page
        if role != "anonymous":
            post_login(page, EMAILS[role], PASSWORD)  # the form is measured for the visitor
        for url in urls:  # the visitor's documents are not an account's (the header)
            key = None if role == "anonymous" else document_key(member, url)
            if key in measured:  # the same document, measured already
                again.append(url)
                found = measured[key][2]
                if found:
                    overflowing.append((url, key[0], found, f"as {measured[key][:2]}"))
                if key[0] < 400:
                    reached.append(url)
                continue
            try:  # headers first: a stream (server-sent events) never fires `load`
                response = page.goto(url, wait_until="commit")
            except PlaywrightError as error:
                if "Download is starting" in str(error):
                    continue  # a file, not a page
                raise
            assert response is not None, url
            if "text/html" not in response.headers.get("content-type", ""):
                continue  # JSON, a stream, a file: not a page
            page.wait_for_load_state("load")
            if page.url.split("?")[0].endswith("/login") and not url.startswith("/login"):
                continue  # not this role's page: the login form (measured on its own)
            if response.status < 400:
                reached.append(url)
                browsed.append(url)
            found = page.evaluate(OVERFLOW_JS)
            if found:
                overflowing.append((url, response.status, found))
            if key is not None:
                measured[key] = (role, url, found)
    assert not overflowing, f"{role}: pages that scroll sideways at {WIDTH} px: {overflowing}"
    # Each role reached its own pages (a broken login would measure only error pages).
    assert "/" in reached and "/entries/la-coroutine" in reached
    editor_pages = [u for u in reached if u.startswith("/editor/")]
    if role == "anonymous":
        assert not editor_pages
    else:  # by the browser itself: its login holds
        assert "/editor/" in browsed
    if role == "contributor":  # the 403 page, as for /editor/entries/…/links before it
        assert "/editor/users" in again
    if role in ("editor", "admin"):
        assert "/editor/reports" in reached
    if role == "admin":
        assert "/editor/users" in reached and "/admin/imports" in reached


def test_the_map_page_without_javascript_shows_the_list_first(browser, server):
    with page_maker(browser, server.url, height=740) as make:
        page = make(width=WIDTH, is_mobile=True, java_script_enabled=False).page
        page.goto("/?kind=third_place")
        # The map page builds no list for a browser with JavaScript: its <noscript> sends
        # this one to the list's first page.
        page.wait_for_url("**/?kind=third_place&page=1")
        assert not page.is_visible("#map")
        first = page.locator(".map-results .entry-card-title a").first
        box = first.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 740, box
        names = page.locator(".map-results .entry-card-title a").all_inner_texts()
        third_places = {e["name"] for e in demo_data.located() if e["kind"] == "third_place"}
        assert names and set(names) <= third_places | {
            e["name"] for e in demo_data.entries() if e["kind"] == "third_place"}
        assert page.locator(".map-results a[href='/entries?kind=third_place']").count() >= 1
