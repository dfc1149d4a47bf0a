"""What a citizen does, in real headless Chromium on a real server with its own database.

A marker's popup shows the entry's summary and address; "Autour de moi" lists the view
nearest first, with the distance, and keeps that when a tag is picked; a suggestion
10 m from "La Coroutine" warns as it is typed; an error report reaches the editors'
queue. axe-core finds nothing serious on the new pages.
"""

from __future__ import annotations

import math
import re

import pytest
from playwright.sync_api import Page

from app.extensions import db
from tests import demo_data
from tests.browser_support import axe_serious, page_maker
from tests.support.api import fresh_app

PASSWORD = "a password for the citizens' browser"
EDITOR = "edith@example.org"
COROUTINE = next(e for e in demo_data.located() if e["slug"] == "la-coroutine")
# A street away from Mutualab, west of La Coroutine: nearest first is not the names' order.
HERE = {"latitude": 50.6313, "longitude": 3.0593}


@pytest.fixture(scope="module")
def server(databases, browser_origin):
    app = fresh_app(databases, "citizens_browser")
    with app.app_context():
        from app.services.users import create_user

        create_user(EDITOR, PASSWORD, "editor", name="Edith")
        db.session.remove()
    with browser_origin.serve(app) as live:
        yield live
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def make_page(browser, server, tabs):
    with page_maker(browser, server.url, tabs=tabs) as make:
        yield make


def log_in(page: Page) -> None:
    page.goto("/login")
    page.fill("#email", EDITOR)
    page.fill("#password", PASSWORD)
    page.click("form.stacked-form button[type=submit]")
    page.wait_for_url(re.compile(r"/editor/$"))


def test_the_popup_shows_the_summary_and_the_address(make_page):
    w = make_page()
    w.page.goto(f"/#map=18/{COROUTINE['lat']}/{COROUTINE['lon']}")
    w.page.wait_for_selector("#map[data-drawn]")
    w.page.click('.atlas-marker[data-slug="la-coroutine"]')
    w.page.wait_for_selector('.atlas-popup[data-loaded="1"]')
    assert w.page.inner_text(".atlas-popup a") == COROUTINE["name"]
    assert w.page.inner_text(".popup-summary") == COROUTINE["summary"]
    assert w.page.inner_text(".popup-address") == "8 rue Molière, 59000 Lille"
    # La Coroutine has no hours: nothing said. El'Cagette has: open or closed now, in words.
    assert w.page.locator('.popup-opening[data-opening-slot="la-coroutine"]').is_hidden()
    cagette = next(e for e in demo_data.located() if e["slug"] == "el-cagette")
    w.page.goto(f"/?kind={cagette['kind']}#map=18/{cagette['lat']}/{cagette['lon']}")
    w.page.wait_for_selector("#map[data-drawn]")
    w.page.click('.atlas-marker[data-slug="el-cagette"]')
    opening = w.page.wait_for_selector('.popup-opening[data-opening-slot="el-cagette"]'
                                       ':not([hidden])')
    text = opening.inner_text()
    assert text.startswith(("Ouvert maintenant", "Fermé maintenant"))
    assert "Mercredi de 13 h 30 à 19 h 30" in text


def test_a_popup_that_pans_the_map_on_a_phone_stays_open(make_page):
    """At 360 px the popup of a place with hours pans the map to fit once its details
    arrive; the markers redrawn after the move keep its marker, so it stays open (it
    used to close at once)."""
    cagette = next(e for e in demo_data.located() if e["slug"] == "el-cagette")
    page = make_page(width=360, height=740, is_mobile=True, has_touch=True).page
    page.goto(f"/#map=17/{cagette['lat']}/{cagette['lon']}")
    page.wait_for_selector("#map[data-drawn]")
    drawn = int(page.get_attribute("#map", "data-drawn"))
    page.tap('.atlas-marker[data-slug="el-cagette"]')
    page.wait_for_selector('.leaflet-popup .popup-opening:not([hidden])')
    # The pan to fit the details moved the map, and the markers were drawn again…
    page.wait_for_function(f"() => +document.querySelector('#map').dataset.drawn > {drawn}")
    # …with the popup still open, its hours in it.
    assert page.locator(".leaflet-popup").count() == 1
    assert "Mercredi" in page.inner_text(".leaflet-popup .popup-opening")


def test_around_me_lists_by_distance_and_keeps_it_when_a_tag_is_picked(make_page):
    w = make_page(geolocation=HERE, permissions=["geolocation"])
    page = w.page
    page.goto("/#map=11/50.65/3.10")
    page.wait_for_selector("#map[data-drawn]")
    page.click("#around-me")
    page.wait_for_selector('#results-list[data-order="distance"]')
    page.click("summary")
    page.select_option("#tag", "coworking")
    page.wait_for_selector('#map[data-query="tag=coworking"]')
    page.wait_for_function("() => document.querySelectorAll('#results-list li').length > 0 &&"
                           " [...document.querySelectorAll('#results-list li')].every("
                           "li => li.querySelector('.result-distance'))")
    # The view stayed around the visitor instead of fitting every coworking space.
    assert page.evaluate("location.hash").startswith("#map=15/50.63")
    names = page.locator("#results-list li a").all_inner_texts()
    metres = [int(m) for m in page.eval_on_selector_all(
        "#results-list .result-distance", "els => els.map(e => e.dataset.metres)")]
    coworking = {e["name"]: e for e in demo_data.located() if "coworking" in e.get("tags", [])}
    assert len(names) >= 2 and set(names) <= set(coworking)
    expected = sorted(names, key=lambda n: demo_data.haversine_m(
        HERE["longitude"], HERE["latitude"], coworking[n]["lon"], coworking[n]["lat"]))
    assert names == expected and names != sorted(names)
    assert metres == sorted(metres)
    first = coworking[names[0]]
    assert metres[0] == pytest.approx(demo_data.haversine_m(
        HERE["longitude"], HERE["latitude"], first["lon"], first["lat"]), abs=3)
    assert re.search(r"\d+\s?m de vous", page.inner_text("#results-list .result-distance"))
    # The directory link carries the place and the order.
    href = page.get_attribute("#directory-link", "href")
    assert "tag=coworking" in href and "near=3.05930,50.63130" in href
    assert "sort=distance" in href


def test_a_suggestion_10_m_from_la_coroutine_warns_as_it_is_typed(make_page):
    w = make_page(axe=True)
    page = w.page
    page.goto("/suggest")
    lon = COROUTINE["lon"] + 10 / (111_320 * math.cos(math.radians(COROUTINE["lat"])))
    page.fill("#name", "La Coroutine")
    page.fill("#lat", f"{COROUTINE['lat']:.6f}")
    page.fill("#lon", f"{lon:.6f}")
    warning = page.wait_for_selector('#twins-warning:not([hidden]) a[data-slug="la-coroutine"]')
    assert "déjà sur la carte" in warning.inner_text() and "10\u00a0m" in warning.inner_text()
    assert not axe_serious(page)
    # A warning, not a refusal: it is sent, and the thanks page says it again.
    page.click("form.stacked-form button[type=submit]")
    page.wait_for_selector("#twins-notice a[href='/entries/la-coroutine']")


def test_a_citizens_report_reaches_the_editors_queue(make_page):
    citizen = make_page(axe=True).page
    citizen.goto("/entries/la-coroutine")
    citizen.click("text=Signaler une erreur")
    citizen.wait_for_selector("#report-form")
    assert not axe_serious(citizen)
    citizen.check("#reason-moved")
    citizen.fill("#message", "Le collectif a déménagé rue Gambetta.")
    citizen.click("#report-form button[type=submit]")
    citizen.wait_for_url("**/entries/la-coroutine/report/thanks")
    assert citizen.inner_text("h1") == "Merci !"

    editor = make_page(axe=True).page
    log_in(editor)
    editor.click(".editor-nav >> text=Signalements")
    item = editor.locator("#open-reports li", has_text="rue Gambetta")
    assert "La Coroutine" in item.inner_text() and "Il a déménagé" in item.inner_text()
    assert not axe_serious(editor)
    item.locator("input[name=note]").fill("Adresse corrigée")
    item.locator("button[type=submit]").click()
    editor.wait_for_selector(".flash")
    handled = editor.locator("#handled-reports li", has_text="rue Gambetta")
    assert "Adresse corrigée" in handled.inner_text()
    assert editor.locator("#open-reports li", has_text="rue Gambetta").count() == 0


def test_the_directory_around_a_place_has_no_serious_axe_violation(make_page):
    page = make_page(axe=True).page
    page.goto(f"/entries?tag=coworking&near={HERE['longitude']},{HERE['latitude']}"
              "&radius=50000")
    assert page.locator(".entry-distance").count() >= 2
    assert not axe_serious(page)
