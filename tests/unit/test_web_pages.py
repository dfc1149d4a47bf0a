"""The citizen pages without a browser: directory, tag pages, entry pages, languages, embed."""

import json
import re
from collections import Counter
from html import unescape

import pytest
from markupsafe import escape

from app.extensions import db
from app.web.directory import PER_PAGE, page_links
from tests import demo_data
from tests.support.statements import statements_sent


def html_of(client, url, status=200, **kw):
    response = client.get(url, **kw)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


def card_names(html):
    return [unescape(n) for n in re.findall(
        r'<h2 class="entry-card-title"><a href="[^"]+">([^<]+)</a>', html)]


def entries_by_slug():
    return {e["slug"]: e for e in demo_data.entries()}


# -- directory ------------------------------------------------------------------------------

def test_directory_pages_through_everything_sorted_by_name(client):
    names, page = [], 1
    while True:
        html = html_of(client, f"/entries?page={page}")
        got = card_names(html)
        names += got
        if 'rel="next"' not in html:
            break
        assert len(got) == PER_PAGE
        page += 1
    assert sorted(names) == sorted(e["name"] for e in demo_data.entries())
    assert len(names) == len(set(names))
    assert f"{len(names)} fiches" in html_of(client, "/entries")


def old_page_links(page, pages):
    """The links the directory's template drew, by looping over every page number."""
    out = []
    for p in range(1, pages + 1):
        if p == page or p <= 2 or p > pages - 2 or abs(p - page) <= 2:
            out.append(p)
        elif p in (3, pages - 2):
            out.append(None)
    return out


def test_directory_page_links_are_a_few_whatever_the_number_of_pages():
    """The first two, the last two, two on each side of this one, gaps as one ellipsis;
    worked out without a loop over every page (50,000 at 1,000,000 entries: 800 kB of
    the template's blank lines in every directory page)."""
    for pages in range(1, 14):
        for page in range(1, pages + 1):
            assert page_links(page, pages) == old_page_links(page, pages), (page, pages)
    assert page_links(25_000, 50_000) == [1, 2, None, *range(24_998, 25_003), None,
                                          49_999, 50_000]
    assert page_links(1, 50_000) == [1, 2, 3, None, 49_999, 50_000]


def test_directory_filters_by_kind_and_tag_without_javascript(client):
    html = html_of(client, "/entries?kind=third_place&tag=grocery")
    expected = {e["name"] for e in demo_data.entries()
                if e["kind"] == "third_place" and "grocery" in e.get("tags", [])}
    assert set(card_names(html)) == expected and expected
    # The form shows the filter it applied, and facet counts for the other choices.
    assert 'value="third_place" checked' in html
    assert re.search(r'<option value="grocery"[^>]* selected>', html)
    grocery_kinds = Counter(e["kind"] for e in demo_data.entries()
                            if "grocery" in e.get("tags", []))
    for kind in ("third_place", "initiative", "commons"):
        assert f'data-facet-kind="{kind}">({grocery_kinds.get(kind, 0)})' in html


def test_directory_search_is_french_and_accent_blind(client):
    html = html_of(client, "/entries?q=epicerie")
    groceries = {e["name"] for e in demo_data.entries() if "grocery" in e.get("tags", [])}
    assert groceries <= set(card_names(html))
    # With a search, relevance is the default sort and is offered.
    assert '<option value="relevance" selected>' in html


def test_the_directory_counts_once_per_data_state_like_the_map(app, client, session):
    """A filter's total and facets are counted once per data state (per worker, and the
    filter's pass in the database, shared with the map): another order or page of the
    same search counts nothing (three scans of the matches a page at 1,000,000 entries,
    0.76 s for `q=epicerie`), and a write is seen. (Here the write is this test's
    session's, which other connections do not see: the pass, counted in a connection of
    its own, saw the state before it and was used all the same, one entry short.)"""
    from sqlalchemy import update

    from app.models import Entry

    with app.app_context():
        engine = db.engine

    def total(query):
        with statements_sent(engine) as sent:
            html = html_of(client, f"/entries?{query}")
        counted = [s.sql for s in sent if "count(" in s.sql.lower()
                   and "pg_current_snapshot" not in s.sql]  # the data state's own
        return int(re.search(r"(\d+) fiches?", html).group(1)), counted

    app.extensions.pop("atlas_per_state", None)
    n, counted = total("q=EPICERIE")
    assert counted and n >= 3
    assert total("q=EPICERIE&sort=name") == (n, [])
    assert total("q=EPICERIE&kind=third_place")[1] == []  # the kind facet: same pass
    session.execute(update(Entry).where(Entry.slug == "mutualab")
                    .values(name="Mutualab, épicerie du coin"))
    session.commit()
    assert total("q=EPICERIE")[0] == n + 1


def test_directory_sorts(client):
    html = html_of(client, "/entries?sort=-updated&kind=commons")
    assert '<option value="-updated" selected>' in html
    assert len(card_names(html)) == min(PER_PAGE, sum(
        1 for e in demo_data.entries() if e["kind"] == "commons"))


@pytest.mark.parametrize("query, parameter", [
    ("kind=castle", "kind"), ("tag=no-such-tag", "tag"), ("sort=price", "sort"),
    ("page=zero", "page"), ("bbox=1,2,3", "bbox"),
])
def test_bad_parameters_get_a_page_that_names_them(client, query, parameter):
    html = html_of(client, f"/entries?{query}", status=400)
    assert f"Paramètre « {parameter} »" in html


def test_a_page_past_the_end_is_not_found(client):
    html_of(client, "/entries?page=999", status=404)


def test_tag_page_lists_an_activity(client):
    html = html_of(client, "/tags/repair")
    expected = {e["name"] for e in demo_data.entries() if "repair" in e.get("tags", [])}
    assert set(card_names(html)) == expected and expected
    assert "<h1>Réparation</h1>" in html
    assert 'href="/?tag=repair"' in html
    html_of(client, "/tags/no-such-tag", status=404)


# -- an entry's page -------------------------------------------------------------------------

def relations():
    """(source, type, target) of the demo file."""
    return [(e["slug"], r["type"], r["target"]) for e in demo_data.entries()
            for r in e.get("relations", [])]


def section(html, title):
    match = re.search(rf'<h2 id="rel-\d+">{re.escape(title)}</h2>\s*<ul class="relation-list">'
                      r"(.*?)</ul>", html, re.S)
    return {unescape(n) for n in re.findall(r'<a href="/entries/[^"]+">([^<]+)</a>',
                                             match.group(1))} if match else set()


def test_entry_page_shows_what_we_know(client):
    spec = entries_by_slug()["la-coroutine"]
    html = html_of(client, "/entries/la-coroutine")
    assert f"<h1>{escape(spec['name'])}</h1>" in html
    assert "Tiers-lieu" in html and escape(spec["street"]) in html and spec["postcode"] in html
    assert "Données de démonstration de l’Atlas des communs" in html
    assert "ODbL-1.0" in html
    # Description rendered from Markdown.
    assert "<p>La Coroutine est née" in html


def test_relations_both_ways(client):
    by_slug = entries_by_slug()
    rels = relations()
    # "Uses" on a place, "Used by" on the digital commons (which has no place).
    user, _, commons = next(r for r in rels if r[1] == "uses"
                            and by_slug[r[2]]["kind"] == "commons" and "lon" in by_slug[r[0]])
    assert by_slug[commons]["name"] in section(html_of(client, f"/entries/{user}"), "Utilise")
    used_by = {by_slug[s]["name"] for s, t, o in rels if t == "uses" and o == commons}
    commons_html = html_of(client, f"/entries/{commons}")
    assert section(commons_html, "Utilisé par") == used_by
    assert "Pas de lieu propre" in commons_html and 'id="map"' not in commons_html
    # "Around this place": what a place hosts.
    hosted = {by_slug[s]["name"] for s, t, o in rels if t == "hosted_by" and o == "mutualab"}
    assert hosted and section(html_of(client, "/entries/mutualab"), "Autour de ce lieu") == hosted


def test_entry_by_uuid_redirects_to_its_slug(client, session):
    from app.services.entries import find_entry

    entry = find_entry("mutualab")
    response = client.get(f"/entries/{entry.id}")
    assert response.status_code == 301 and response.location.endswith("/entries/mutualab")


def test_unknown_and_deleted_entries(client, session):
    from app.services.entries import delete_entry, find_entry
    from app.services.revisions import Author

    html_of(client, "/entries/no-such-entry", status=404)
    entry = find_entry("mutualab")
    delete_entry(entry, expected_version=entry.version, author=Author(label="test"))
    assert "Cette fiche a été supprimée" in html_of(client, "/entries/mutualab", status=410)
    # Gone from the directory and the map too.
    assert 'href="/entries/mutualab"' not in html_of(client, "/entries?q=mutualab")
    assert "mutualab" not in {m[0] for m in client.get("/map/markers.json").json["markers"]}
    hosted = html_of(client, "/entries/amap-mutualab")
    assert 'href="/entries/mutualab"' not in hosted


def jsonld_of(html):
    raw = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S).group(1)
    return json.loads(raw)


def test_json_ld_and_open_graph(client):
    spec = entries_by_slug()["la-coroutine"]
    html = html_of(client, "/entries/la-coroutine")
    doc = jsonld_of(html)
    assert doc["@context"] == "https://schema.org" and doc["@type"] == "Place"
    assert doc["name"] == spec["name"] and doc["description"] == spec["summary"]
    assert doc["geo"] == {"@type": "GeoCoordinates", "latitude": spec["lat"],
                          "longitude": spec["lon"]}
    assert doc["address"]["postalCode"] == spec["postcode"]
    assert doc["@id"].endswith("/entries/la-coroutine")
    assert f'<meta property="og:title" content="{escape(spec["name"])}">' in html
    assert '<meta property="og:url" content="http://localhost/entries/la-coroutine">' in html
    assert 'og:description' in html


def test_json_ld_types_by_kind(client):
    initiative = next(e for e in demo_data.entries() if e["kind"] == "initiative")
    software = next(e for e in demo_data.entries() if e["kind"] == "commons"
                    and "software" in e.get("tags", []) and "lon" not in e)
    other = next((e for e in demo_data.entries() if e["kind"] == "commons"
                  and "software" not in e.get("tags", []) and "lon" not in e), None)
    assert jsonld_of(html_of(client, f"/entries/{initiative['slug']}"))["@type"] == "Organization"
    doc = jsonld_of(html_of(client, f"/entries/{software['slug']}"))
    assert doc["@type"] == "SoftwareApplication"
    if software.get("licence"):
        assert doc["license"] == f"https://spdx.org/licenses/{software['licence']}.html"
    if other is not None:
        assert jsonld_of(html_of(client, f"/entries/{other['slug']}"))["@type"] == "CreativeWork"


def test_embed_snippet_on_a_located_entry(client):
    html = html_of(client, "/entries/mutualab")
    snippet = unescape(re.search(r'<textarea id="embed-code"[^>]*>(.*?)</textarea>',
                                 html, re.S).group(1))
    assert snippet.startswith('<iframe src="http://localhost/embed#map=16/')
    assert 'title="Carte : Mutualab' in snippet


# -- embed, languages, headers ------------------------------------------------------------------

def test_embed_has_no_site_header_and_may_be_framed(client):
    response = client.get("/embed?kind=third_place")
    html = response.get_data(as_text=True)
    assert 'class="site-header"' not in html and 'id="map"' in html
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in response.headers
    assert 'href="/?kind=third_place"' in html
    other = client.get("/entries")
    assert other.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in other.headers["Content-Security-Policy"]


def test_language_switch_sets_a_cookie(client):
    french = html_of(client, "/entries")
    assert '<html lang="fr">' in french and 'href="/entries?lang=en"' in french
    response = client.get("/entries?lang=en")
    assert "lang=en" in response.headers["Set-Cookie"]
    english = response.get_data(as_text=True)
    assert '<html lang="en">' in english and "Directory" in english and "Third places" in english
    # The cookie keeps English on the next page.
    assert '<html lang="en">' in html_of(client, "/entries/mutualab")
    assert '<html lang="fr">' in html_of(client, "/entries/mutualab?lang=fr")


def test_accept_language(client):
    html = html_of(client, "/entries", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in html and "Search" in html
    html = html_of(client, "/entries", headers={"Accept-Language": "de-DE"})
    assert '<html lang="fr">' in html


def test_dates_and_numbers_are_localised(client):
    spec = demo_data.demo()["evaluations"][0]
    fr = html_of(client, f"/entries/{spec['entry']}")
    en = html_of(client, f"/entries/{spec['entry']}?lang=en")
    day = spec["date"]
    months_fr = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
                 "septembre", "octobre", "novembre", "décembre"]
    assert f"{day.day} {months_fr[day.month - 1]} {day.year}" in fr
    assert f"{day.strftime('%B')} {day.day}, {day.year}" in en


def test_tile_servers_are_allowed_by_the_csp():
    from app.http.headers import tile_sources

    assert tile_sources("https://tile.openstreetmap.org/{z}/{x}/{y}.png") == \
        "https://tile.openstreetmap.org"
    assert tile_sources("https://{s}.tile.openstreetmap.fr/osmfr/{z}/{x}/{y}.png") == \
        "https://*.tile.openstreetmap.fr"
    assert tile_sources("/tiles/{z}/{x}/{y}.png") == ""


def test_a_stored_script_url_never_becomes_a_link(client, session):
    from sqlalchemy import text

    session.execute(text("UPDATE entries SET website = 'javascript:alert(1)' "
                         "WHERE slug = 'mutualab'"))
    html = html_of(client, "/entries/mutualab")
    assert 'href="javascript:' not in html and "javascript:alert(1)" in html


def test_the_maps_footnote_lists_the_entries_without_a_place(client):
    html = html_of(client, "/entries?located=false&kind=commons")
    expected = {e["name"] for e in demo_data.entries()
                if e["kind"] == "commons" and "lon" not in e}
    got = set(card_names(html))
    page = 2
    while f'href="?kind=commons&amp;located=false&amp;page={page}"' in html:
        html = html_of(client, f"/entries?located=false&kind=commons&page={page}")
        got |= set(card_names(html))
        page += 1
    assert got == expected and expected
    assert '<input type="hidden" name="located" value="false">' in html


def test_tag_options_in_french_alphabetical_order(client):
    import unicodedata

    html = html_of(client, "/entries")
    shown = [unescape(label) for label in re.findall(
        r'<option value="[a-z0-9-]+" data-label="([^"]+)"', html)]
    groups = {}
    for tag in demo_data.demo()["tags"]:
        groups.setdefault(tag["group"], []).append(tag["label_fr"])

    def key(text):
        return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()

    expected = [label for group in ("activity", "theme", "audience")
                for label in sorted(groups[group], key=key)]
    assert shown == expected


def test_an_unknown_address_gets_the_sites_page_or_a_problem(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert '<html lang="fr">' in page.get_data(as_text=True)
    assert "Page introuvable" in page.get_data(as_text=True)
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.content_type == "application/problem+json"


def test_entry_page_identifiers_with_links_and_hours_in_plain_words(client, session):
    from app import hours
    from app.services.entries import find_entry, save_entry
    from app.services.revisions import Author

    value = "We 14:00-19:00; PH off"
    save_entry(find_entry("mutualab"), {
        "siret": "13002526500013", "rna": "W595012345", "wikidata": "Q648",
        "osm_object": "node/123", "opening_hours": value}, author=Author(label="test"),
        expected_version=None)
    before = hours.now_state(value, "FR").state
    html = unescape(html_of(client, "/entries/mutualab"))
    after = hours.now_state(value, "FR").state
    for link in ("https://annuaire-entreprises.data.gouv.fr/etablissement/13002526500013",
                 "https://www.journal-officiel.gouv.fr/pages/associations-recherche/"
                 "?q=W595012345",
                 "https://www.wikidata.org/wiki/Q648", "https://www.openstreetmap.org/node/123"):
        assert f'href="{link}"' in html, link
    assert "Mercredi de 14 h à 19 h ; fermé les jours fériés" in html
    assert f"<code>{value}</code>" in html  # the OSM text stays, for who knows it
    if before == after:
        assert ("Ouvert maintenant" if before == "open" else "Fermé maintenant") in html
    english = unescape(html_of(client, "/entries/mutualab?lang=en"))
    assert "Wednesday from 14:00 to 19:00; closed on public holidays" in english
    doc = jsonld_of(html)
    assert doc["sameAs"] == ["https://www.wikidata.org/wiki/Q648",
                             "https://www.openstreetmap.org/node/123"]
    assert {"@type": "PropertyValue", "propertyID": "SIRET",
            "value": "13002526500013"} in doc["identifier"]
    assert doc["openingHoursSpecification"][0]["dayOfWeek"] == ["https://schema.org/Wednesday"]


def test_every_demo_opening_hours_value_is_valid():
    from app import hours

    values = [e["opening_hours"] for e in demo_data.entries() if e.get("opening_hours")]
    assert values and [v for v in values if hours.problem(v)] == []


def test_the_popup_asks_an_entrys_opening_in_words(client):
    """What the map's popup shows of the hours: open or closed now, and the week in words,
    in the page's language; nothing for an entry without hours; 404 for one not public."""
    body = client.get("/entries/el-cagette/opening.json",
                      headers={"Accept-Language": "fr"}).get_json()
    assert body["state"] in ("open", "closed")
    assert body["now"].startswith("Ouvert maintenant" if body["state"] == "open"
                                  else "Fermé maintenant")
    assert body["text"].startswith("Mercredi de 13 h 30 à 19 h 30")
    english = client.get("/entries/el-cagette/opening.json",
                         headers={"Accept-Language": "en"}).get_json()
    assert english["text"].startswith("Wednesday")
    assert client.get("/entries/la-coroutine/opening.json").get_json() == {
        "state": None, "now": None, "text": None}
    assert client.get("/entries/no-such-place/opening.json").status_code == 404
