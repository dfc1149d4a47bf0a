"""The map, the directory and an entry's page in real headless Chromium, on a real server.

Debian's Chromium driven by Playwright. Requests that would leave the machine (map
tiles) are refused, as they are here anyway: the map must work without tiles.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page

from app.query import EntryFilter, count_entries
from tests import demo_data
from tests.browser_support import axe_serious, page_maker, playwright_disabled_features


@pytest.fixture(scope="module")
def server(app, browser_origin):
    """The session's demo app, on the browser tests' one origin (its open tabs)."""
    with browser_origin.serve(app) as served:
        yield served


@pytest.fixture
def make_page(browser, server, tabs):
    with page_maker(browser, server.url, tabs=tabs) as make:
        yield make


def drawn(page: Page) -> None:
    page.wait_for_selector("#map[data-drawn]")


def markers_shown(page: Page) -> int:
    """Entries on the map: single markers plus what the clusters hold."""
    in_clusters = page.eval_on_selector_all(
        ".atlas-cluster-count", "els => els.reduce((s, e) => s + Number(e.dataset.count), 0)")
    return in_clusters + page.locator(".atlas-marker").count()


def listed(page: Page) -> list[str]:
    return page.locator("#results-list li a").all_inner_texts()


def fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower())
                   if not unicodedata.combining(c))


def located_count(app) -> int:
    with app.app_context():
        return count_entries(EntryFilter(located=True))


# -- the map ----------------------------------------------------------------------------------

@pytest.mark.parametrize("view", ["3/50.63/3.06", "10/50.65/3.10"])
def test_the_map_shows_every_located_entry_without_tiles(make_page, app, view):
    w = make_page()
    w.page.goto(f"/#map={view}")
    drawn(w.page)
    assert markers_shown(w.page) == located_count(app) > 0
    # The tiles were asked for and refused; the map said so and still drew everything.
    tile_host = urlsplit(app.config["TILE_URL"].replace("{s}", "a")).hostname
    assert any(urlsplit(url).hostname == tile_host for url in w.outside)
    w.page.wait_for_selector("#map.tiles-down")
    assert "Le fond de carte est injoignable" in w.page.inner_text("#map-status")


def test_past_the_threshold_the_map_draws_the_tiles_clusters(make_page, app):
    """MAP_FILE_MAX_MARKERS at 0: every view is drawn from PostGIS's clusters by tile."""
    saved = app.config["MAP_FILE_MAX_MARKERS"]
    app.config["MAP_FILE_MAX_MARKERS"] = 0
    try:
        w = make_page()
        w.page.goto("/?tag=grocery#map=3/50.63/3.06")
        drawn(w.page)
        assert w.page.get_attribute("#map", "data-markers-mode") == "cells"
        expected = [e for e in demo_data.located() if "grocery" in e.get("tags", [])]
        assert markers_shown(w.page) == len(expected) > 1
        assert w.page.locator(".atlas-cluster").count() >= 1
        # Its tiles came in blocks of 4 × 4: the world at zoom 3 is 2 × 2 blocks.
        asked = w.page.evaluate("performance.getEntriesByType('resource').map(r => r.name)"
                                ".filter(n => n.includes('/map/cells/') ||"
                                " n.includes('/map/blocks/'))")
        assert asked and len(asked) <= 4 and all("/map/blocks/3/" in u for u in asked), asked
        # A street view (a new page load in the same tab): the entries are markers with
        # their slug, and their popup works.
        w.page.goto("/#map=18/50.6295/3.0650")
        w.page.click('.atlas-marker[data-slug="la-coroutine"]')
        w.page.wait_for_selector(".atlas-popup >> text=La Coroutine")
    finally:
        app.config["MAP_FILE_MAX_MARKERS"] = saved


def test_typing_epicerie_lists_the_participatory_groceries(make_page):
    w = make_page()
    w.page.goto("/")
    drawn(w.page)
    w.page.locator("#q").press_sequentially("epicerie", delay=40)
    w.page.wait_for_selector('#map[data-query="q=epicerie"]')
    names = set(listed(w.page))
    groceries = {e["name"] for e in demo_data.located() if "grocery" in e.get("tags", [])}
    assert groceries and groceries <= names
    for spec in demo_data.located():
        if spec["name"] in names:
            text = fold(" ".join(spec.get(k, "") for k in ("name", "summary", "description")))
            assert "epicerie" in text, spec["name"]
    assert "q=epicerie" in w.page.url


def test_a_marker_popup_leads_to_the_entry_page(make_page):
    spec = next(e for e in demo_data.located() if e["slug"] == "la-coroutine")
    w = make_page()
    w.page.goto(f"/#map=18/{spec['lat']}/{spec['lon']}")
    drawn(w.page)
    w.page.click('.atlas-marker[data-slug="la-coroutine"]')
    link = w.page.locator(".atlas-popup a")
    assert link.inner_text() == spec["name"]
    link.click()
    w.page.wait_for_url("**/entries/la-coroutine")
    assert w.page.inner_text("h1") == spec["name"]


def test_keyboard_opens_a_popup_and_lands_in_it(make_page):
    spec = next(e for e in demo_data.located() if e["slug"] == "la-coroutine")
    w = make_page()
    w.page.goto(f"/#map=18/{spec['lat']}/{spec['lon']}")
    drawn(w.page)
    w.page.focus('.atlas-marker[data-slug="la-coroutine"]')
    w.page.keyboard.press("Enter")
    w.page.wait_for_selector(".atlas-popup a")
    assert w.page.evaluate("document.activeElement.textContent") == spec["name"]
    w.page.keyboard.press("Escape")
    w.page.wait_for_selector(".atlas-popup", state="detached")


def test_a_cluster_zooms_in_and_the_list_button_opens_a_popup(make_page):
    w = make_page()
    w.page.goto("/#map=11/50.65/3.10")
    drawn(w.page)
    before = int(re.search(r"map=(\d+)/", w.page.url).group(1))
    w.page.locator(".atlas-cluster").first.click()
    w.page.wait_for_function(f"() => !location.hash.startsWith('#map={before}/')")
    assert int(re.search(r"map=(\d+)/", w.page.url).group(1)) > before
    first = w.page.locator("#results-list li").first
    name = first.locator("a").inner_text()
    first.locator("button.show-on-map").press("Enter")
    w.page.wait_for_selector(".atlas-popup a")
    assert w.page.evaluate("document.activeElement.textContent") == name


def test_the_language_switch_turns_the_interface_to_english(make_page):
    w = make_page()
    w.page.goto("/#map=12/50.63/3.06")
    drawn(w.page)
    assert w.page.get_attribute("html", "lang") == "fr"
    w.page.click("a[data-lang-switch=en]")
    w.page.wait_for_load_state()
    drawn(w.page)
    assert w.page.get_attribute("html", "lang") == "en"
    assert w.page.inner_text("label[for=q]") == "Search"
    assert w.page.inner_text(".atlas-legend .legend-title") == "Legend"
    assert "in this view" in w.page.inner_text("#results-count")
    assert "Third places" in w.page.text_content("fieldset.kinds")
    assert "#map=12/50.63" in w.page.url  # the view came along
    # The choice sticks (cookie) on the next page.
    w.page.goto("/entries")
    assert w.page.get_attribute("html", "lang") == "en"
    assert w.page.inner_text("h1") == "Directory"


def test_a_shared_url_restores_the_same_filters(make_page, browser):
    w = make_page()
    w.page.goto("/")
    drawn(w.page)
    w.page.click("summary")
    w.page.check("#kind-third_place")
    w.page.wait_for_selector('#map[data-query="kind=third_place"]')
    w.page.select_option("#tag", "grocery")
    w.page.wait_for_selector('#map[data-query="kind=third_place&tag=grocery"]')
    shared = w.page.url
    names = sorted(listed(w.page))
    expected = sorted(e["name"] for e in demo_data.located()
                      if e["kind"] == "third_place" and "grocery" in e.get("tags", []))
    assert names == expected and expected

    other = make_page()
    other.page.goto(shared)
    drawn(other.page)
    assert other.page.is_checked("#kind-third_place")
    assert not other.page.is_checked("#kind-initiative")
    assert other.page.input_value("#tag") == "grocery"
    assert sorted(listed(other.page)) == names
    assert markers_shown(other.page) == len(expected)
    assert other.page.url.split("#")[1] == shared.split("#")[1]  # same view


def test_around_me_centres_on_the_visitor(make_page):
    spec = next(e for e in demo_data.located() if e["slug"] == "mutualab")
    w = make_page(geolocation={"latitude": spec["lat"], "longitude": spec["lon"]},
                  permissions=["geolocation"])
    w.page.goto("/#map=10/50.7/3.2")
    drawn(w.page)
    w.page.click("#around-me")
    w.page.wait_for_function("() => location.hash.startsWith('#map=15/')")
    assert spec["name"] in listed(w.page)


def test_the_embed_shows_the_filtered_map(make_page):
    w = make_page(width=600, height=400)
    w.page.goto("/embed?kind=initiative#map=9/50.65/3.1")
    drawn(w.page)
    expected = [e for e in demo_data.located() if e["kind"] == "initiative"]
    assert markers_shown(w.page) == len(expected) > 0
    assert w.page.locator(".site-header").count() == 0
    assert "kind=initiative" in w.page.get_attribute("#full-map-link", "href")


@pytest.mark.parametrize("path", ["/", "/entries", "/entries/la-coroutine"])
def test_phones_at_360_px(make_page, path):
    w = make_page(width=360, height=740, is_mobile=True, has_touch=True)
    w.page.goto(path)
    if path == "/":
        drawn(w.page)
        assert w.page.locator("#map").bounding_box()["height"] >= 300
    overflow = w.page.evaluate(  # the layout viewport: innerWidth grows on a phone
        "document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 360 px"


# -- accessibility ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/entries", "/entries/la-coroutine", "/entries/loomio",
                                  "/embed"])
def test_axe_finds_no_serious_violation(make_page, path):
    w = make_page(axe=True)
    w.page.goto(path)
    if path in ("/", "/embed"):
        drawn(w.page)
    serious = axe_serious(w.page)
    assert not serious, serious


def test_filters_work_from_the_keyboard(make_page):
    w = make_page()
    w.page.goto("/")
    drawn(w.page)
    w.page.keyboard.press("Tab")  # the skip link first
    assert w.page.evaluate("document.activeElement.className") == "skip-link"
    w.page.focus("#q")
    w.page.keyboard.press("Tab")  # the search button
    w.page.keyboard.press("Tab")  # the "Filtres" summary
    assert w.page.evaluate("document.activeElement.tagName") == "SUMMARY"
    w.page.keyboard.press("Enter")
    w.page.keyboard.press("Tab")
    assert w.page.evaluate("document.activeElement.id") == "kind-commons"
    w.page.keyboard.press("Tab")
    w.page.keyboard.press("Space")  # tick "Tiers-lieux"
    w.page.wait_for_selector('#map[data-query="kind=third_place"]')
    assert "?kind=third_place#" in w.page.url
    expected = sum(1 for e in demo_data.located() if e["kind"] == "third_place")
    other = make_page()
    other.page.goto(w.page.url.split("#")[0] + "#map=3/50.63/3.06")
    drawn(other.page)
    assert markers_shown(other.page) == expected


def test_the_api_reference_pages_reach_nothing_outside(make_page):
    """ReDoc draws its maker's logo once mounted, from their CDN: the vendored copy is
    patched not to (static/vendor/README.md), or a visitor's browser would call a third
    party and break the page's CSP."""
    w = make_page()
    # Note when ReDoc's logo image has come and gone (it drops it on a load error); the
    # script goes with the test (the page is handed on: tests.browser_support.Tabs).
    with w.page.add_init_script("""
            const logo = (n) => n.alt === 'redocly logo';
            new MutationObserver((records) => {
                for (const r of records) {
                    for (const n of r.addedNodes) if (logo(n)) window.logoAdded = n.src || 'none';
                    for (const n of r.removedNodes) if (logo(n)) window.logoGone = true;
                }
            }).observe(document, {childList: true, subtree: true});"""):
        w.page.goto("/api/redoc")
        w.page.get_by_text("API docs by Redocly").wait_for()
        w.page.wait_for_function("() => window.logoGone === true")
        assert w.page.evaluate("window.logoAdded").startswith(("none", "http://127.0.0.1"))
    assert not w.errors and not w.outside, (w.errors, w.outside)


# -- the test tabs themselves --------------------------------------------------------------------

OPENING = "/entries/la-coroutine/opening.json"  # kept a minute by browsers
# The bytes that came over the network for a fetch of `url` (0 when from the HTTP cache),
# from its resource timing entry, which comes after the body.
FETCHED_SIZE = """async (url) => {
    await (await fetch(url)).text();
    return await new Promise(done => new PerformanceObserver((list, observer) => {
        const entry = list.getEntries().find(e => e.name.endsWith(url));
        if (entry) { observer.disconnect(); done(entry.transferSize); }
    }).observe({type: 'resource', buffered: true}));
}"""


def test_a_tab_handed_on_keeps_nothing_of_the_test_before(browser, server, tabs):
    """tests.browser_support.Tabs: the next test gets the same renderer, not the state."""
    with page_maker(browser, server.url, tabs=tabs) as make:
        before = make(width=500, height=400, axe=True, permissions=["geolocation"],
                      geolocation={"latitude": 50.6, "longitude": 3.1}).page
        before.goto("/entries")
        assert before.evaluate("typeof axe") == "object"
        before.evaluate("localStorage.setItem('left', 'behind')")
        assert before.evaluate(f"fetch('{OPENING}').then(r => r.status)") == 200  # max-age
        before.context.add_cookies([{"name": "left", "value": "behind",
                                     "url": server.url}])
        before.route("**/static/**", lambda route: route.abort())
        before.emulate_media(media="print")
        before.set_viewport_size({"width": 300, "height": 300})
    with page_maker(browser, server.url, tabs=tabs) as make:
        after = make(width=600, height=500).page
        assert after is before  # the same tab, so the same renderer process
        after.goto("/entries")
        assert after.context.cookies() == []
        assert after.evaluate("localStorage.getItem('left')") is None
        assert after.evaluate(FETCHED_SIZE, OPENING) > 0  # from the server, not the cache
        assert after.evaluate("fetch('/static/css/atlas.css', {cache: 'no-store'})"
                              ".then(r => r.status, () => 'refused')") == 200  # no route left
        assert after.evaluate("matchMedia('print').matches") is False
        assert after.viewport_size == {"width": 600, "height": 500}
        assert after.evaluate("typeof axe") == "undefined"
        assert after.evaluate("navigator.permissions.query({name: 'geolocation'})"
                              ".then(p => p.state)") != "granted"


def test_the_test_browser_keeps_playwrights_disabled_features(browser):
    """Chromium reads only the last --disable-features: the one that turns RenderDocument
    off for the tests (browser_support.chromium_args_for_tests) must still carry
    Playwright's own list, read from its driver (a new driver may move it)."""
    page = browser.new_page()
    try:
        page.goto("chrome://version")
        line = page.inner_text("#command_line")
    finally:
        page.close()
    last = [arg for arg in line.split() if arg.startswith("--disable-features=")][-1]
    features = set(last.split("=", 1)[1].split(","))
    playwrights = set(playwright_disabled_features())
    assert len(playwrights) >= 5 and {"PaintHolding", "HttpsUpgrades"} <= playwrights
    assert playwrights | {"RenderDocument"} <= features
