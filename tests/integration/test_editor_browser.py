"""The editors' pages in real headless Chromium, on a real server with its own database.

An editor moves a marker and publishes a sheet on the six keys; a contributor's proposal
stays invisible until it is accepted; two editors write the same sheet and the second
sees the conflict with their text kept; typed text survives a reload; the sheet prints
on A4. Debian's Chromium, driven by Playwright; nothing leaves the machine.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page

from app.extensions import db
from app.services.entries import get_entry
from tests.browser_support import Logins, axe_serious, page_maker
from tests.support.api import fresh_app

PASSWORD = "a password for the browser"
USERS = {"editor": "edith@example.org", "editor2": "emile@example.org",
         "contributor": "camille@example.org", "admin": "ada@example.org"}
KEYS = ("governance", "financing", "contribution", "sharing", "legal", "partners")


@pytest.fixture(scope="module")
def server(databases, browser_origin):
    app = fresh_app(databases, "editors_browser")
    with app.app_context():
        from app.services.users import create_user

        for name, email in USERS.items():
            create_user(email, PASSWORD, {"contributor": "contributor", "admin": "admin"}.get(
                name, "editor"), name=name.title())
        db.session.remove()
    with browser_origin.serve(app) as live:
        yield live
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def make_page(browser, server, tabs):
    with page_maker(browser, server.url, height=900, accept_dialogs=True, tabs=tabs) as make:
        yield make


@pytest.fixture(scope="module")
def logins() -> Logins:
    """One login through the form per account for the module; the others by its cookies."""
    return Logins({email: PASSWORD for email in USERS.values()})


@pytest.fixture
def log_in(logins):
    def log_in(page: Page, who: str, then: str = "/editor/") -> None:
        """Log in, landing on `then` (the login's `next`) rather than on the dashboard
        first: one page load less for a test that starts elsewhere."""
        logins(page, USERS[who], then)
    return log_in


def entry_id(server, slug: str) -> str:
    with server.app.app_context():
        value = str(get_entry(slug).id)
        db.session.remove()
        return value


def entry_state(server, slug: str) -> dict:
    with server.app.app_context():
        entry = get_entry(slug)
        state = {"lonlat": entry.lonlat, "version": entry.version, "summary": entry.summary}
        db.session.remove()
        return state


# -- an editor's day ----------------------------------------------------------------------------

def test_an_editor_moves_the_marker_and_publishes_a_sheet_shown_on_the_public_page(
        make_page, server, log_in):
    before = entry_state(server, "mutualab")
    w = make_page()
    page = w.page
    log_in(page, "editor", then=f"/editor/entries/{entry_id(server, 'mutualab')}/edit")
    page.wait_for_selector("#location-map[data-ready]")
    page.locator("#location-map").scroll_into_view_if_needed()
    marker = page.locator("#location-map .leaflet-marker-icon")
    box = marker.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] - 4
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y + 40, steps=12)
    page.mouse.up()
    lat, lon = float(page.input_value("#lat")), float(page.input_value("#lon"))
    # Dragged right and down: east and south of where it was.
    assert lon > before["lonlat"][0] and lat < before["lonlat"][1]
    page.fill("#comment", "Position corrigée sur place")
    page.click("#entry-form button[type=submit]")
    page.wait_for_selector(".flash")
    after = entry_state(server, "mutualab")
    assert after["version"] == before["version"] + 1
    assert after["lonlat"] == pytest.approx((lon, lat), abs=1e-6)

    # A sheet on the six keys, published.
    page.click("text=Nouvelle fiche d’évaluation")
    page.wait_for_selector("#sheet-form")
    page.fill("#title", "Assemblée des communs du 26 mai 2026")
    page.fill("#held_on", "2026-05-26")
    page.fill("#authors", "Assemblée des communs de Lille")
    levels = dict(zip(KEYS, (3, 2, 4, 1, 2, 3), strict=True))
    for key, level in levels.items():
        page.select_option(f"#{key}-level", str(level))
        page.fill(f"#{key}-strengths", f"Ce qui marche en **{key}**.")
        page.fill(f"#{key}-limits", f"Les limites de {key}.")
        page.fill(f"#{key}-stakes", f"Les enjeux de {key}.")
    # The Markdown preview shows what the public page will.
    page.click("#governance-strengths ~ .preview-button")
    page.wait_for_selector("#governance-strengths-preview:not([hidden])")
    assert page.inner_html("#governance-strengths-preview").strip() == \
        "<p>Ce qui marche en <strong>governance</strong>.</p>"
    page.check("#state-published")
    page.click("#sheet-form button[type=submit]")
    page.wait_for_selector(".flash")

    public = make_page().page
    public.goto("/entries/mutualab")
    assert "Assemblée des communs du 26 mai 2026" in public.inner_text(".sheet")
    assert public.locator(".sheet svg.radar").is_visible()
    shown = {row.get_attribute("data-key"): row.inner_text().split("\t")[-1].strip()
             for row in public.locator(".sheet table.levels tbody tr").all()}
    assert shown == {key: f"{level}/4" for key, level in levels.items()}
    assert public.locator(".sheet strong", has_text="financing").count() == 1


# -- a contributor's proposal ---------------------------------------------------------------------

def test_a_contributors_proposal_stays_invisible_until_an_editor_accepts_it(
        make_page, server, log_in):
    slug = "la-cofabrik"
    contributor = make_page().page
    log_in(contributor, "contributor", then=f"/editor/entries/{entry_id(server, slug)}/edit")
    contributor.fill("#summary", "Résumé proposé par une contributrice.")
    contributor.click("#entry-form button[type=submit]")
    contributor.wait_for_selector(".flash")
    assert "attendent la relecture" in contributor.inner_text(".flash")

    visitor = make_page().page
    visitor.goto(f"/entries/{slug}")
    assert "Résumé proposé" not in visitor.inner_text("main")

    editor = make_page().page
    log_in(editor, "editor", then="/editor/proposals")
    editor.click(f"text={entry_name(server, slug)}")
    assert "Résumé proposé par une contributrice." in editor.inner_text(".proposal-table")
    editor.fill("#accept-comment", "Merci !")
    editor.click("text=Accepter et publier")
    editor.wait_for_selector(".flash")

    visitor.reload()
    assert "Résumé proposé par une contributrice." in visitor.inner_text("main")
    contributor.goto("/editor/")
    assert "Acceptée" in contributor.inner_text("tr[data-proposal]")


def entry_name(server, slug: str) -> str:
    with server.app.app_context():
        name = get_entry(slug).name
        db.session.remove()
        return name


def test_saving_an_unchanged_multi_line_description_writes_nothing(
        make_page, server, log_in):
    """Chromium sends a textarea's lines with CRLF: the same text, so no write at all."""
    from app.models import Revision
    from app.services.entries import save_entry
    from app.services.revisions import Author

    text = "Un lieu partagé à Fives.\n\n- des bureaux\n- un atelier  \n  ouvert le soir"
    with server.app.app_context():
        entry = get_entry("lille-makers")
        save_entry(entry, {"description": text}, author=Author(label="test"),
                   expected_version=entry.version)
        db.session.remove()

    def state() -> tuple:
        with server.app.app_context():
            entry = get_entry("lille-makers")
            count = db.session.query(Revision).filter_by(entity_id=entry.id).count()
            value = (entry.version, entry.description, count)
            db.session.remove()
            return value

    before = state()
    assert before[1] == text
    page = make_page().page
    log_in(page, "editor", then=f"/editor/entries/{entry_id(server, 'lille-makers')}/edit")
    assert page.input_value("#description") == text
    with page.expect_request(lambda r: r.method == "POST") as sent:
        page.click("#entry-form button[type=submit]")
    assert "%0D%0A" in (sent.value.post_data or "")  # the browser's own line ends
    page.wait_for_selector(".flash")
    assert state() == before


# -- two editors, one sheet -----------------------------------------------------------------------

def sheet_url(server, slug: str) -> str:
    from sqlalchemy import select

    from app.models import Evaluation

    with server.app.app_context():
        entry = get_entry(slug)
        sheet = db.session.scalar(select(Evaluation).where(Evaluation.entry_id == entry.id))
        db.session.remove()
        return f"/editor/sheets/{sheet.id}/edit"


def test_two_editors_on_one_sheet_the_second_sees_the_conflict_with_their_text_kept(
        make_page, server, log_in):
    url = sheet_url(server, "la-coroutine")
    first, second = make_page().page, make_page().page
    # Without live sharing (static/js/sheet-live.js, tested in test_sheet_live_browser.py),
    # as for a browser whose calls fail: today's save and conflict screen.
    for page in (first, second):
        page.route("**/js/sheet-live.js", lambda route: route.fulfill(
            body="", content_type="text/javascript"))
    log_in(first, "editor", then=url)
    log_in(second, "editor2", then=url)
    first.fill("#sharing-stakes", "Le texte de la première éditrice.")
    first.click("#sheet-form button[type=submit]")
    first.wait_for_selector(".flash")

    mine = "Le texte du second éditeur, tapé pendant ce temps."
    second.fill("#sharing-stakes", mine)
    second.click("#sheet-form button[type=submit]")
    second.wait_for_selector("#conflict")
    conflict = second.inner_text("#conflict")
    assert "Le texte de la première éditrice." in conflict and mine in conflict
    assert second.input_value("#sharing-stakes") == mine

    # Coming back to the page does not lose it either: the browser kept the draft, and its
    # version, so saving again shows the conflict instead of overwriting the first text.
    second.goto(url)
    second.wait_for_selector("#draft-notice:not([hidden])")
    assert second.input_value("#sharing-stakes") == mine
    second.click("#sheet-form button[type=submit]")
    second.wait_for_selector("#conflict")
    assert second.input_value("#sharing-stakes") == mine

    # "Use their version", then save: the merge goes through and the draft is gone.
    second.click("tr[data-conflict-field='sharing-stakes'] .use-theirs")
    second.fill("#sharing-stakes", second.input_value("#sharing-stakes") + " " + mine)
    second.click("#sheet-form button[type=submit]")
    second.wait_for_selector(".flash")
    second.wait_for_load_state("load")  # the page's scripts (the draft's clean-up) have run
    assert second.input_value("#sharing-stakes") == f"Le texte de la première éditrice. {mine}"
    assert second.evaluate("Object.keys(localStorage).filter(k => k.startsWith('atlas-draft'))"
                           ) == []


def test_text_typed_in_a_new_sheet_survives_a_reload(make_page, server, log_in):
    page = make_page().page
    log_in(page, "editor", then=f"/editor/entries/{entry_id(server, 'mres')}/sheets/new")
    page.fill("#title", "Assemblée de juin")
    page.fill("#legal-strengths", "Une association loi 1901 depuis longtemps.")
    page.reload()
    page.wait_for_selector("#draft-notice:not([hidden])")
    assert page.input_value("#legal-strengths") == "Une association loi 1901 depuis longtemps."
    assert page.input_value("#title") == "Assemblée de juin"
    page.click("#discard-draft")
    page.wait_for_load_state()
    assert page.input_value("#legal-strengths") == ""


# -- reading and printing --------------------------------------------------------------------------

def test_the_sheet_prints_on_one_a4_page(make_page, server):
    page = make_page().page
    page.goto("/entries/la-coroutine")
    page.click("text=Version imprimable")
    page.wait_for_selector(".sheet-page")
    # The element can be there before the style sheet is: wait for the whole page.
    page.wait_for_load_state("load")
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible()
    pdf = page.pdf(format="A4", print_background=False)
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))
    assert pages == 1, pages
    # Nothing wider than the A4 page's printable width (210 mm - 2 × 12 mm, at 96 dpi).
    page.set_viewport_size({"width": 703, "height": 1000})
    assert page.evaluate("document.documentElement.scrollWidth") <= 703


def test_the_entry_form_helps_as_you_type(make_page, server, log_in):
    page = make_page().page
    log_in(page, "editor", then=f"/editor/entries/{entry_id(server, 'mutualab')}/edit")
    page.wait_for_selector("#location-map[data-ready]")
    # Tags narrow as you type; relations suggest entries as you type.
    page.fill("#tag-filter", "cowork")
    visible = page.locator("#tag-groups li:visible").all_inner_texts()
    assert any("Coworking" in text for text in visible) and len(visible) < 10
    page.click("[data-add-relation]")
    new_row = page.locator("[data-relation-target]").last
    new_row.type("coroutin", delay=30)
    page.wait_for_selector("#entry-suggestions option", state="attached")
    options = page.eval_on_selector_all("#entry-suggestions option", "os => os.map(o => o.value)")
    assert "la-coroutine" in options


def test_axe_finds_no_serious_violation_on_the_editors_pages(make_page, server, log_in):
    """Every kind of editors' page, for an admin (who reaches them all) in one session,
    and the two pages of visitors without an account."""
    entry = entry_id(server, "la-coroutine")
    admin_pages = [f"/editor/entries/{entry}/edit", sheet_url(server, "la-coroutine"),
                   f"/editor/entries/{entry}/history", "/editor/sheets", "/editor/keys",
                   "/editor/keys/governance/edit", "/editor/tags", "/editor/contributions",
                   "/editor/reports", "/editor/sources", "/editor/webhooks", "/editor/users",
                   f"/editor/entries/{entry}/links", "/editor/links"]
    found = {}
    # One context: the visitor's pages, then the same browser logs in as the admin.
    page = make_page(axe=True).page
    for role, paths in (("anonymous", ["/suggest", "/login"]), ("admin", admin_pages)):
        for n, path in enumerate(paths):
            if role == "admin" and n == 0:
                log_in(page, "admin", then=path)  # on the first page, not the dashboard
            else:
                page.goto(path)
            assert page.url.split("?")[0].endswith(path), (path, page.url)  # not a redirect
            serious = axe_serious(page)
            if serious:
                found[path] = serious
    assert not found, found


def test_a_contributor_reads_the_refusal_reason_in_french(make_page, server, log_in):
    """A refused proposal's reason reaches its author on "Mes contributions", in French
    words around the editor's own text."""
    from sqlalchemy import select

    from app.models import User
    from app.services.entries import get_entry
    from app.services.proposals import propose_edit, reject
    from app.services.revisions import Author

    with server.app.app_context():
        users = {u.email: u for u in db.session.scalars(select(User))}
        entry = get_entry("mutualab")
        proposal = propose_edit(entry, {"city": "Roubaix"}, base_version=entry.version,
                                author=Author(user=users[USERS["contributor"]]))
        reject(proposal, reviewer=users[USERS["editor"]],
               comment="Mutualab est toujours à Lille.")
        db.session.remove()
    page = make_page().page
    log_in(page, "contributor", then="/editor/contributions")
    row = page.locator("tr", has_text="Mutualab").first
    text = row.inner_text()
    assert "Motif du refus : Mutualab est toujours à Lille." in text.replace("\n", " "), text
    assert "rejected" not in text.lower() and "Proposal" not in text
