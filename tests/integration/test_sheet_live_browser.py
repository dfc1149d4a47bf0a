"""Two editors on one evaluation sheet in real Chromium (two browser contexts), on a real
server with its own database: each sees the other's change within 3 s, typing in the same
field loses no word, both save and nothing is lost; the level definitions are shown; a
sheet started from the last one carries its values. One server for the module."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import Evaluation
from app.services.entries import get_entry
from tests.browser_support import Logins, axe_serious, page_maker
from tests.support.api import fresh_app

PASSWORD = "a password for the browser"
USERS = {"anna": "anna@example.org", "basile": "basile@example.org"}


@pytest.fixture(scope="module")
def server(databases, browser_origin):
    app = fresh_app(databases, "sheet_live_browser")
    with app.app_context():
        from app.services.users import create_user

        for name, email in USERS.items():
            create_user(email, PASSWORD, "editor", name=name.title())
        db.session.remove()
    with browser_origin.serve(app) as live:
        yield live
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def make_page(browser, server, tabs):
    with page_maker(browser, server.url, height=900, tabs=tabs) as make:
        yield make


@pytest.fixture(scope="module")
def logins() -> Logins:
    """One login through the form per account for the module; the others by its cookies."""
    return Logins({email: PASSWORD for email in USERS.values()})


@pytest.fixture
def log_in(logins):
    def log_in(page: Page, who: str, then: str) -> None:
        logins(page, USERS[who], then)
    return log_in


def saved_sheet(server, **where) -> dict:
    with server.app.app_context():
        entry = get_entry("la-coroutine")
        sheet = db.session.scalars(select(Evaluation).where(
            Evaluation.entry_id == entry.id, Evaluation.deleted_at.is_(None),
            *(getattr(Evaluation, k) == v for k, v in where.items()))
            .order_by(Evaluation.created_at.desc())).first()
        out = {"id": str(sheet.id), "title": sheet.title, "held_on": sheet.held_on,
               "version": sheet.version,
               **{f"{a.key_slug}-{part}": "" if getattr(a, part) is None else
                  str(getattr(a, part))
                  for a in sheet.answers for part in ("level", "strengths", "limits",
                                                      "stakes")}}
        db.session.remove()
        return out


def test_two_editors_on_one_sheet_see_each_other_and_lose_nothing(make_page, server, log_in):
    before = saved_sheet(server)
    url = f"/editor/sheets/{before['id']}/edit"
    anna, basile = make_page().page, make_page().page
    log_in(anna, "anna", url)
    log_in(basile, "basile", url)
    expect(anna.locator("#live-status")).to_contain_text("Basile", timeout=3000)
    expect(basile.locator("#live-status")).to_contain_text("Anna", timeout=3000)
    # The level definitions sit beside the choice.
    expect(anna.locator("#governance-level-hint")).to_contain_text(
        "Personne ne sait qui décide.")

    # Different fields: each sees the other's change within 3 s.
    anna.fill("#governance-strengths", "Des assemblées ouvertes chaque mois.")
    basile.fill("#legal-limits", "Le bail précaire fragilise le lieu.")
    expect(basile.locator("#governance-strengths")).to_have_value(
        "Des assemblées ouvertes chaque mois.", timeout=3000)
    expect(anna.locator("#legal-limits")).to_have_value(
        "Le bail précaire fragilise le lieu.", timeout=3000)

    # The same field, typed by both at once: both sentences stay, on both pages.
    start = before["sharing-stakes"]
    anna.locator("#sharing-stakes").press("Control+End")
    basile.locator("#sharing-stakes").press("Control+End")
    anna.locator("#sharing-stakes").press_sequentially(" Phrase d’Anna.")
    basile.locator("#sharing-stakes").press_sequentially(" Phrase de Basile.")
    for page in (anna, basile):
        expect(page.locator("#sharing-stakes")).to_have_value(
            re.compile("^" + re.escape(start) + r".*Phrase d’Anna\.", re.DOTALL), timeout=3000)
        expect(page.locator("#sharing-stakes")).to_have_value(
            re.compile(r"Phrase de Basile\."), timeout=3000)

    expect(anna.locator(".live-writer")).to_be_visible(timeout=3000)

    # Both save, one after the other: no conflict screen, and nothing is lost.
    for page in (anna, basile):
        page.click("#sheet-form button[type=submit]")
        page.wait_for_selector(".flash")
        assert page.locator("#conflict").count() == 0
    after = saved_sheet(server)
    assert after["governance-strengths"] == "Des assemblées ouvertes chaque mois."
    assert after["legal-limits"] == "Le bail précaire fragilise le lieu."
    assert after["sharing-stakes"].startswith(start)
    assert "Phrase d’Anna." in after["sharing-stakes"]
    assert "Phrase de Basile." in after["sharing-stakes"]


def test_a_sheet_started_from_the_last_one_carries_its_values(make_page, server, log_in):
    last = saved_sheet(server)
    page = make_page(axe=True).page
    log_in(page, "anna", "/entries/la-coroutine")
    page.click("a.evaluate-link")
    page.click("#start-from-last")
    expect(page.locator("#title")).to_have_value("")
    assert page.input_value("#held_on") == date.today().isoformat()
    for name in ("governance-level", "governance-strengths", "legal-limits", "sharing-stakes"):
        assert page.input_value(f"#{name}") == last[name]
    page.fill("#title", "Assemblée suivante")
    page.click("#sheet-form button[type=submit]")
    page.wait_for_selector(".flash")
    new = saved_sheet(server, title="Assemblée suivante")
    # The entry's sheets now draw how the levels evolved; the sheets page lists the draft.
    page.goto("/entries/la-coroutine/sheets")
    expect(page.locator(".evolution-chart polyline")).to_have_count(6)
    assert axe_serious(page) == []
    page.goto("/editor/sheets")
    expect(page.locator("#drafts-title + ul")).to_contain_text("Assemblée suivante")
    assert axe_serious(page) == []
    assert new["id"] != last["id"] and new["held_on"] == date.today()
    for name, value in last.items():
        if "-" in name:
            assert new[name] == value, name
