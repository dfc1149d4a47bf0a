"""Editing entries in the browser's forms (through Flask's client): create, edit, bad input
beside its field, conflicts shown side by side, history and revert, delete and restore."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.models import Entry, Evaluation, Relation, Revision, Source
from app.services.entries import get_entry, snapshot, update_entry
from app.services.revisions import Author, revisions_of
from tests import demo_data
from tests.support.editor import (
    csrf_token,
    field_error,
    form_pairs,
    form_values,
    login,
    replaced,
)

EDIT = "/editor/entries/{id}/edit"


def revision_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Revision))


def edit_form(client, entry) -> list[tuple[str, str]]:
    response = client.get(EDIT.format(id=entry.id))
    assert response.status_code == 200
    return form_pairs(response.get_data(as_text=True), "entry-form")


def post(client, url, pairs):
    return client.post(url, data=MultiDict(pairs))


# -- create and edit ----------------------------------------------------------------------------

def test_an_editor_creates_an_entry_with_a_position_typed_with_a_comma(client, accounts):
    login(client, "editor")
    page = client.get("/editor/entries/new").get_data(as_text=True)
    pairs = replaced(form_pairs(page, "entry-form"), name="Café des Possibles",
                     kind="third_place", city="Lille", lat="50,6274", lon="3,0712",
                     comment="Vu à l'assemblée", **{"relations-0-target": "Mutualab",
                                                    "relations-0-type": "partner_of"})
    pairs.append(("tags", "coworking"))
    response = post(client, "/editor/entries/new", pairs)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    entry = db.session.scalar(select(Entry).where(Entry.name == "Café des Possibles"))
    assert entry.moderation == "published"
    assert entry.lonlat == pytest.approx((3.0712, 50.6274))
    assert [t.slug for t in entry.tags] == ["coworking"]
    # The relation was typed by name (no script): resolved to Mutualab.
    assert [(r.type, r.target.slug) for r in entry.relations_out] == [("partner_of",
                                                                       "mutualab")]
    [revision] = revisions_of("entry", entry.id)
    assert (revision.author.email, revision.comment) == (accounts["editor"].email,
                                                         "Vu à l'assemblée")
    assert client.get(f"/entries/{entry.slug}").status_code == 200


def test_an_editor_edits_every_field_and_the_form_shows_the_saved_version(client, accounts):
    login(client, "editor")
    entry = get_entry("mutualab")
    version = entry.version
    pairs = replaced(edit_form(client, entry), summary="Un nouveau résumé.",
                     opening_hours="Mo-Fr 09:00-19:00", status="planned", founded="2011",
                     phone="+33 3 20 00 00 00", licence="CC-BY-SA-4.0")
    response = post(client, EDIT.format(id=entry.id), pairs)
    assert response.status_code == 303
    db.session.expire_all()
    entry = get_entry("mutualab")
    assert entry.version == version + 1
    assert (entry.summary, entry.opening_hours, entry.status, entry.founded, entry.phone,
            entry.licence) == ("Un nouveau résumé.", "Mo-Fr 09:00-19:00", "planned", 2011,
                               "+33 3 20 00 00 00", "CC-BY-SA-4.0")
    # Untouched: tags, relations, position.
    assert sorted(t.slug for t in entry.tags) == ["association", "coworking", "freelancers",
                                                   "makerspace"]
    assert entry.lonlat == pytest.approx((3.06, 50.631))
    values = form_values(client.get(EDIT.format(id=entry.id)).get_data(as_text=True),
                         "entry-form")
    assert values["summary"] == "Un nouveau résumé."
    assert values["version"] == str(version + 1)


def test_saving_an_unchanged_form_writes_nothing(client, accounts):
    login(client, "editor")
    entry = get_entry("la-coroutine")
    before = revision_count()
    response = post(client, EDIT.format(id=entry.id), edit_form(client, entry))
    assert response.status_code == 303
    assert revision_count() == before
    assert "Rien n’a changé" in client.get(response.headers["Location"]).get_data(as_text=True)


# -- bad input ----------------------------------------------------------------------------------

def test_bad_input_is_named_beside_each_field_and_the_rest_of_the_form_is_kept(client,
                                                                               accounts):
    login(client, "editor")
    entry = get_entry("mutualab")
    before = revision_count(), snapshot(entry)
    huge = "x" * 2_000_000
    pairs = replaced(edit_form(client, entry), email="contact-at-mutualab.org", lat="95",
                     description=huge, summary="Gardé tel quel", city="Lille-Fives")
    response = post(client, EDIT.format(id=entry.id), pairs)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "il lui faut un @" in field_error(html, "email")
    assert "La latitude doit être comprise entre -90 et 90" in field_error(html, "lat")
    assert "20" in field_error(html, "description") and "caractères au plus" in \
        field_error(html, "description")
    assert 'aria-invalid="true"' in html and 'aria-describedby="email-error"' in html
    kept = form_values(html, "entry-form")
    assert (kept["summary"], kept["city"], kept["email"], kept["lat"]) == (
        "Gardé tel quel", "Lille-Fives", "contact-at-mutualab.org", "95")
    assert kept["description"] == huge  # nothing typed is lost, even what is refused
    assert "coworking" in [v for k, v in form_pairs(html, "entry-form") if k == "tags"]
    db.session.expire_all()
    assert (revision_count(), snapshot(get_entry("mutualab"))) == before


def test_an_unknown_relation_target_is_named_on_its_row(client, accounts):
    login(client, "editor")
    entry = get_entry("mutualab")
    pairs = replaced(edit_form(client, entry), **{"relations-5-target": "nulle-part",
                                                  "relations-5-type": "uses"})
    response = post(client, EDIT.format(id=entry.id), pairs)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    rows = re.findall(r'name="(relations-\d+)-target" value="([^"]*)"', html)
    assert ("nulle-part" in [v for _, v in rows])
    row = next(name for name, v in rows if v == "nulle-part")
    assert "nulle-part" in field_error(html, row)


# -- conflicts ----------------------------------------------------------------------------------

def test_saving_over_a_newer_version_shows_both_and_keeps_the_input(client, accounts):
    login(client, "editor")
    entry = get_entry("mutualab")
    opened = edit_form(client, entry)
    opened_version = entry.version
    # Someone else saves meanwhile.
    update_entry(entry, {"summary": "Leur résumé, enregistré d'abord."},
                 expected_version=opened_version, author=Author(user=accounts["admin"]),
                 comment="correction rapide")
    newer = entry.version
    mine = replaced(opened, summary="Mon résumé, pas encore enregistré.", city="Lille")
    response = post(client, EDIT.format(id=entry.id), mine)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    conflict = html[html.index('id="conflict"'):html.index('id="entry-form"')]
    assert "Leur résumé, enregistré d&#39;abord." in conflict
    assert "Mon résumé, pas encore enregistré." in conflict
    assert "correction rapide" in conflict
    kept = form_values(html, "entry-form")
    assert kept["summary"] == "Mon résumé, pas encore enregistré."
    assert kept["version"] == str(newer)
    db.session.expire_all()
    assert get_entry("mutualab").summary == "Leur résumé, enregistré d'abord."

    # Having seen theirs, the editor merges and saves: it goes through.
    merged = replaced(form_pairs(html, "entry-form"),
                      summary="Leur résumé, enregistré d'abord. Et le mien.")
    assert post(client, EDIT.format(id=entry.id), merged).status_code == 303
    db.session.expire_all()
    assert get_entry("mutualab").summary == "Leur résumé, enregistré d'abord. Et le mien."


# -- history, revert ----------------------------------------------------------------------------

def test_history_shows_what_changed_field_by_field_and_revert_restores_the_old_values(
        client, accounts):
    login(client, "editor")
    entry = get_entry("la-coroutine")
    old = snapshot(entry)
    old_version = entry.version
    author = Author(user=accounts["editor"])
    update_entry(entry, {"summary": "Résumé remplacé", "tags": ["coworking"], "lon": 3.07,
                         "lat": 50.64}, expected_version=old_version, author=author)
    update_entry(entry, {"name": "La Coroutine (renommée)"}, expected_version=entry.version,
                 author=author)
    history = client.get(f"/editor/entries/{entry.id}/history?from={old_version}"
                         f"&to={entry.version}").get_data(as_text=True)
    for key in ("name", "summary", "tags", "lon", "lat"):
        assert f'data-key="{key}"' in history
    assert 'data-key="city"' not in history  # unchanged fields are not listed
    assert "<del>" in history and "<ins>" in history  # the summary's word diff
    assert "Résumé remplacé" in history

    before = revision_count()
    token = csrf_token(client, f"/editor/entries/{entry.id}/history")
    response = client.post(f"/editor/entries/{entry.id}/revert",
                           data={"csrf_token": token, "to_version": str(old_version),
                                 "version": str(entry.version)})
    assert response.status_code == 303
    db.session.expire_all()
    entry = get_entry("la-coroutine")
    now = snapshot(entry)
    assert {k: v for k, v in now.items() if k not in ("id",)} == \
        {k: v for k, v in old.items() if k not in ("id",)}
    assert revision_count() == before + 1
    assert revisions_of("entry", entry.id)[-1].action == "revert"


def test_a_stale_revert_is_refused(client, accounts):
    login(client, "editor")
    entry = get_entry("la-coroutine")
    token = csrf_token(client, f"/editor/entries/{entry.id}/history")
    update_entry(entry, {"summary": "Changé entre-temps"}, expected_version=entry.version,
                 author=Author(user=accounts["admin"]))
    before = revision_count()
    response = client.post(f"/editor/entries/{entry.id}/revert",
                           data={"csrf_token": token, "to_version": "1",
                                 "version": str(entry.version - 1)})
    assert response.status_code == 303
    assert revision_count() == before
    assert "a changé pendant que vous lisiez" in client.get(
        response.headers["Location"]).get_data(as_text=True)


# -- delete and restore -------------------------------------------------------------------------

def public_state(client, slug: str) -> dict:
    return {
        "relations": client.get(f"/api/v1/entries/{slug}/relations").get_json()["items"],
        "evaluations": client.get(f"/api/v1/entries/{slug}/evaluations").get_json()["items"],
    }


def test_a_deleted_then_restored_entry_has_all_its_relations_and_sheets_back(client,
                                                                            accounts):
    entry = get_entry("la-coroutine")
    before = public_state(client, "la-coroutine")
    assert before["evaluations"] and {r["direction"] for r in before["relations"]} == {"in",
                                                                                       "out"}
    relation_rows = db.session.scalar(select(func.count()).select_from(Relation).where(
        (Relation.source_id == entry.id) | (Relation.target_id == entry.id)))
    # The neighbours' pages list it before...
    neighbour = next(r["entry"]["slug"] for r in before["relations"] if r["direction"] == "in")
    link = 'href="/entries/la-coroutine"'
    assert link in client.get(f"/entries/{neighbour}").get_data(as_text=True)

    login(client, "editor")
    token = csrf_token(client, EDIT.format(id=entry.id))
    response = client.post(f"/editor/entries/{entry.id}/delete",
                           data={"csrf_token": token, "version": str(entry.version),
                                 "comment": "doublon ?"})
    assert response.status_code == 303
    assert client.get("/entries/la-coroutine").status_code == 410
    assert client.get("/api/v1/entries/la-coroutine").status_code == 410
    assert link not in client.get(f"/entries/{neighbour}").get_data(as_text=True)
    # Nothing was removed: the rows are all there.
    assert db.session.scalar(select(func.count()).select_from(Relation).where(
        (Relation.source_id == entry.id) | (Relation.target_id == entry.id))) == relation_rows
    # Editors cannot restore; the admin's trash lists it.
    assert client.get("/editor/trash").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client, "/editor/")})
    login(client, "admin")
    trash = client.get("/editor/trash").get_data(as_text=True)
    assert 'data-entry="la-coroutine"' in trash and "doublon ?" in trash
    token = csrf_token(client, "/editor/trash")
    db.session.expire_all()
    entry = get_entry("la-coroutine", include_deleted=True)
    response = client.post(f"/editor/trash/entries/{entry.id}/restore",
                           data={"csrf_token": token, "version": str(entry.version)})
    assert response.status_code == 303
    after = public_state(client, "la-coroutine")
    assert after == before
    page = client.get("/entries/la-coroutine").get_data(as_text=True)
    assert 'class="radar"' in page
    assert link in client.get(f"/entries/{neighbour}").get_data(as_text=True)
    actions = [r.action for r in revisions_of("entry", entry.id)][-2:]
    assert actions == ["delete", "restore"]


def test_editing_keeps_relations_to_a_deleted_entry(client, accounts):
    """An entry in the trash is still a relation target: saving a neighbour keeps the link,
    so that restoring it brings the relation back."""
    from app.services.entries import delete_entry

    author = Author(user=accounts["editor"])
    dokuwiki = get_entry("dokuwiki")
    delete_entry(dokuwiki, expected_version=dokuwiki.version, author=author)
    login(client, "editor")
    mutualab = get_entry("mutualab")
    html = client.get(EDIT.format(id=mutualab.id)).get_data(as_text=True)
    assert 'value="dokuwiki"' in html
    pairs = replaced(form_pairs(html, "entry-form"), summary="Autre résumé")
    assert post(client, EDIT.format(id=mutualab.id), pairs).status_code == 303
    db.session.expire_all()
    assert ("uses", "dokuwiki") in [(r.type, r.target.slug)
                                    for r in get_entry("mutualab").relations_out]


# -- helpers of the form ------------------------------------------------------------------------

def test_search_as_you_type_and_markdown_preview(client, accounts):
    assert client.get("/editor/entries/search.json?q=mutua").status_code == 302
    login(client, "contributor")
    items = client.get("/editor/entries/search.json?q=mutua").get_json()["items"]
    assert "mutualab" in [i["slug"] for i in items]
    accents = client.get("/editor/entries/search.json?q=epicerie").get_json()["items"]
    groceries = {e["slug"] for e in demo_data.entries()
                 if "picerie" in (e["name"] + e.get("summary", "")).lower()}
    assert accents and accents[0]["slug"] in groceries
    token = csrf_token(client, "/editor/")
    preview = client.post("/editor/preview", data={"text": "**gras** <script>x()</script>"},
                          headers={"X-CSRFToken": token}).get_json()["html"]
    assert "<strong>gras</strong>" in preview and "<script>" not in preview


def test_entry_pages_offer_editing_to_logged_in_users_only(client, accounts):
    assert "Modifier cette fiche" not in client.get("/entries/mutualab").get_data(as_text=True)
    login(client, "contributor")
    assert "Modifier cette fiche" in client.get("/entries/mutualab").get_data(as_text=True)


def test_a_source_is_not_needed_and_none_is_invented(client, accounts):
    login(client, "editor")
    entry = get_entry("mutualab")
    sources = db.session.scalar(select(func.count()).select_from(Source).where(
        Source.entry_id == entry.id))
    version = entry.version
    # A real change (the same city again would be saved as "unchanged", before any source).
    response = post(client, EDIT.format(id=entry.id),
                    replaced(edit_form(client, entry), summary="Un résumé revu par Edith."))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    db.session.refresh(entry)
    assert (entry.summary, entry.version) == ("Un résumé revu par Edith.", version + 1)
    assert db.session.scalar(select(func.count()).select_from(Source).where(
        Source.entry_id == entry.id)) == sources


def test_sheets_of_an_entry_are_listed_on_its_form(client, accounts):
    login(client, "editor")
    entry = get_entry("la-coroutine")
    sheet = db.session.scalar(select(Evaluation).where(Evaluation.entry_id == entry.id))
    html = client.get(EDIT.format(id=entry.id)).get_data(as_text=True)
    assert f"/editor/sheets/{sheet.id}/edit" in html
    assert f"/editor/entries/{entry.id}/sheets/new" in html


def test_unknown_and_forbidden_pages_answer_in_the_sites_words(client, accounts):
    import uuid

    login(client, "contributor")
    missing = client.get(EDIT.format(id=uuid.uuid4()))
    assert missing.status_code == 404 and "Page introuvable" in missing.get_data(as_text=True)
    forbidden = client.get("/editor/trash")
    assert forbidden.status_code == 403
    assert "Votre compte (contributeur) ne permet pas" in forbidden.get_data(as_text=True)


def test_the_editors_pages_speak_english_too(client, accounts):
    login(client, "admin")
    html = client.get("/editor/?lang=en").get_data(as_text=True)
    assert 'lang="en"' in html and "Editors' area" in html and "Log out" in html
    for path in ("/editor/entries/new", "/editor/proposals", "/editor/trash", "/editor/users",
                 f"/editor/entries/{get_entry('mutualab').id}/edit"):
        page = client.get(path)
        assert page.status_code == 200 and 'lang="en"' in page.get_data(as_text=True), path


# -- identifiers, opening hours, national databases --------------------------------------------

def test_identifiers_and_hours_are_checked_beside_their_fields_then_saved(client, accounts):
    login(client, "editor")
    entry = get_entry("mutualab")
    before = revision_count()
    pairs = replaced(edit_form(client, entry), siret="130 025 265 00014", rna="W59",
                     wikidata="Q0", osm_object="area/1", opening_hours="Mo-Fr 9h-18h")
    response = post(client, EDIT.format(id=entry.id), pairs)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "SIRET : clé de contrôle invalide" in field_error(html, "siret")
    assert "RNA : W suivi de 9 chiffres" in field_error(html, "rna")
    assert "Wikidata" in field_error(html, "wikidata")
    assert "OpenStreetMap" in field_error(html, "osm_object")
    hours_error = field_error(html, "opening_hours")
    assert "caractère 7" in hours_error and "expected" in hours_error  # the parser's words
    assert form_values(html, "entry-form")["opening_hours"] == "Mo-Fr 9h-18h"
    assert revision_count() == before
    # Corrected: tidied and saved; the form then says which national databases it suits.
    pairs = replaced(pairs, siret="130 025 265 00013", rna="w595012345",
                     wikidata="https://www.wikidata.org/wiki/Q648", osm_object="node/123",
                     opening_hours="We 14:00-19:00; PH off")
    assert post(client, EDIT.format(id=entry.id), pairs).status_code == 303
    db.session.expire_all()
    entry = get_entry("mutualab")
    assert (entry.siret, entry.rna, entry.wikidata, entry.osm_object, entry.opening_hours) == (
        "13002526500013", "W595012345", "Q648", "node/123", "We 14:00-19:00; PH off")
    page = client.get(EDIT.format(id=entry.id)).get_data(as_text=True)
    readiness = re.search(r'<section class="national-readiness".*?</section>', page, re.S).group(0)
    assert re.search(r'class="ready"><strong>Lieux de médiation numérique', readiness)
    # Without its SIRET and RNA number it is not ready, and the form says what is missing.
    update_entry(entry, {"siret": None, "rna": None}, expected_version=None,
                 author=Author(label="test"))
    page = client.get(EDIT.format(id=entry.id)).get_data(as_text=True)
    assert re.search(r'class="not-ready"><strong>Lieux de médiation numérique</strong> :\s*'
                     r'manque :\s*pivot \(SIRET / Numéro RNA\)', page)
