"""Evaluation sheets: written on the six keys, published, compared, printed, with their history."""

from __future__ import annotations

import re

from markupsafe import escape
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.models import Evaluation, EvaluationKey
from app.services.entries import get_entry
from app.services.evaluations import save_evaluation, snapshot
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

KEYS = ("governance", "financing", "contribution", "sharing", "legal", "partners")


def sheet_pairs(client, url: str) -> list[tuple[str, str]]:
    response = client.get(url)
    assert response.status_code == 200
    return form_pairs(response.get_data(as_text=True), "sheet-form")


def filled(pairs, title="Assemblée des communs du 12 mars 2025", held_on="2025-03-12",
           state="published", levels=(1, 2, 3, 4, 0, 2)) -> list[tuple[str, str]]:
    changes = {"title": title, "held_on": held_on, "authors": "Assemblée de Lille",
               "state": state}
    for key, level in zip(KEYS, levels, strict=True):
        changes[f"{key}-level"] = str(level)
        changes[f"{key}-strengths"] = f"Atouts **{key}**"
        changes[f"{key}-limits"] = f"Limites {key}"
        changes[f"{key}-stakes"] = f"Enjeux {key}"
    return replaced(pairs, **changes)


def test_a_sheet_on_the_six_keys_is_published_on_the_entrys_page(client, accounts):
    entry = get_entry("mutualab")
    assert 'class="radar"' not in client.get("/entries/mutualab").get_data(as_text=True)
    login(client, "editor")
    url = f"/editor/entries/{entry.id}/sheets/new"
    page = client.get(url).get_data(as_text=True)
    questions = db.session.scalars(select(EvaluationKey).order_by(EvaluationKey.position))
    for key in questions:  # each key's guiding question is shown
        assert str(escape(key.question_fr)) in page
    response = client.post(url, data=MultiDict(filled(sheet_pairs(client, url))))
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    sheet = db.session.scalar(select(Evaluation).where(Evaluation.entry_id == entry.id))
    assert [a.key_slug for a in sheet.answers] == list(KEYS)
    assert sheet.answer("financing").strengths == "Atouts **financing**"

    public = client.get("/entries/mutualab").get_data(as_text=True)
    assert "Assemblée des communs du 12 mars 2025" in public
    assert 'class="radar"' in public
    levels = dict(re.findall(r'<tr data-key="(\w+)"><th scope="row">[^<]+</th>\s*<td>(\d)/4',
                             public))
    assert levels == dict(zip(KEYS, ("1", "2", "3", "4", "0", "2"), strict=True))
    assert "<strong>financing</strong>" in public  # Markdown rendered


def test_a_draft_stays_off_the_public_pages(client, accounts):
    entry = get_entry("mutualab")
    login(client, "editor")
    url = f"/editor/entries/{entry.id}/sheets/new"
    client.post(url, data=MultiDict(filled(sheet_pairs(client, url), state="draft")))
    sheet = db.session.scalar(select(Evaluation).where(Evaluation.entry_id == entry.id))
    assert client.get(f"/entries/mutualab/sheets/{sheet.id}").status_code == 200  # editor
    client.post("/logout", data={"csrf_token": csrf_token(client, "/editor/")})
    assert 'class="radar"' not in client.get("/entries/mutualab").get_data(as_text=True)
    assert client.get(f"/entries/mutualab/sheets/{sheet.id}").status_code == 404
    assert client.get("/api/v1/entries/mutualab/evaluations").get_json()["items"] == []


def test_a_level_of_9_is_named_beside_the_level_and_the_texts_are_kept(client, accounts):
    entry = get_entry("mutualab")
    login(client, "editor")
    url = f"/editor/entries/{entry.id}/sheets/new"
    pairs = replaced(filled(sheet_pairs(client, url)), **{"governance-level": "9"})
    response = client.post(url, data=MultiDict(pairs))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Un niveau de 0 à 4, ou aucun." in field_error(html, "governance-level")
    kept = form_values(html, "sheet-form")
    assert kept["governance-level"] == "9"
    assert kept["legal-stakes"] == "Enjeux legal"
    assert kept["title"] == "Assemblée des communs du 12 mars 2025"
    assert db.session.scalar(select(Evaluation).where(Evaluation.entry_id == entry.id)) is None


def test_a_stale_save_shows_both_texts_and_keeps_the_editors_text(client, accounts):
    entry = get_entry("la-coroutine")
    sheet = db.session.scalar(select(Evaluation).where(Evaluation.entry_id == entry.id))
    login(client, "editor")
    url = f"/editor/sheets/{sheet.id}/edit"
    opened = sheet_pairs(client, url)
    data = {k: v for k, v in snapshot(sheet).items() if k in ("title", "held_on", "authors",
                                                              "state", "answers")}
    data["answers"]["governance"]["strengths"] = "Le texte de l'autre éditrice."
    save_evaluation(entry, sheet, data, author=Author(user=accounts["admin"]),
                    expected_version=sheet.version)
    mine = replaced(opened, **{"governance-strengths": "Mon texte, tapé pendant ce temps."})
    response = client.post(url, data=MultiDict(mine))
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    conflict = html[html.index('id="conflict"'):html.index('id="sheet-form"')]
    assert "Le texte de l&#39;autre éditrice." in conflict
    assert "Mon texte, tapé pendant ce temps." in conflict
    kept = form_values(html, "sheet-form")
    assert kept["governance-strengths"] == "Mon texte, tapé pendant ce temps."
    assert kept["version"] == str(sheet.version)
    assert 'data-state="posted"' in html  # the browser keeps its draft
    db.session.expire_all()
    assert sheet.answer("governance").strengths == "Le texte de l'autre éditrice."


def test_sheet_history_revert_delete_and_restore(client, accounts):
    entry = get_entry("la-coroutine")
    sheet = db.session.scalar(select(Evaluation).where(Evaluation.entry_id == entry.id))
    original = snapshot(sheet)
    login(client, "editor")
    url = f"/editor/sheets/{sheet.id}/edit"
    pairs = replaced(sheet_pairs(client, url), **{"financing-level": "4",
                                                  "comment": "nouveaux financements"})
    assert client.post(url, data=MultiDict(pairs)).status_code == 303
    history = client.get(f"/editor/sheets/{sheet.id}/history").get_data(as_text=True)
    assert 'data-key="answers.financing.level"' in history and "nouveaux financements" in history
    token = csrf_token(client, f"/editor/sheets/{sheet.id}/history")
    client.post(f"/editor/sheets/{sheet.id}/revert",
                data={"csrf_token": token, "to_version": "1", "version": str(sheet.version)})
    db.session.expire_all()
    assert snapshot(sheet)["answers"] == original["answers"]
    assert revisions_of("evaluation", sheet.id)[-1].action == "revert"

    token = csrf_token(client, url)
    client.post(f"/editor/sheets/{sheet.id}/delete",
                data={"csrf_token": token, "version": str(sheet.version)})
    assert 'class="radar"' not in client.get("/entries/la-coroutine").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/editor/")})
    login(client, "admin")
    token = csrf_token(client, "/editor/trash")
    db.session.expire_all()
    client.post(f"/editor/trash/sheets/{sheet.id}/restore",
                data={"csrf_token": token, "version": str(sheet.version)})
    assert 'class="radar"' in client.get("/entries/la-coroutine").get_data(as_text=True)


def test_comparing_two_sheets_of_one_entry(client, accounts):
    entry = get_entry("la-coroutine")
    demo_sheet = demo_data.demo()["evaluations"][0]
    old = {k: v["level"] for k, v in demo_sheet["answers"].items()}
    newer = {"title": "Assemblée des communs du 3 juin 2024", "held_on": "2024-06-03",
             "state": "published",
             "answers": {k: {"level": min(4, level + 1), "strengths": f"Progrès {k}"}
                         for k, level in old.items()}}
    save_evaluation(entry, None, newer, author=Author(user=accounts["editor"]),
                    expected_version=None)
    sheets = client.get("/entries/la-coroutine/sheets").get_data(as_text=True)
    assert "Comparer deux fiches" in sheets
    page = client.get("/entries/la-coroutine/sheets/compare").get_data(as_text=True)
    assert page.count('class="radar"') == 2
    assert 'id="radar-a-title"' in page and 'id="radar-b-title"' in page
    for key, level in old.items():
        delta = min(4, level + 1) - level
        expected = "=" if delta == 0 else f"+{delta}"
        assert re.search(rf'data-key="{key}">.*?<td class="delta">{re.escape(expected)}</td>',
                         page, re.S), key
    assert "Progrès governance" in page


def test_every_commons_on_one_key(client, accounts):
    demo_sheet = demo_data.demo()["evaluations"][0]
    page = client.get("/keys/governance").get_data(as_text=True)
    assert f'data-entry="{demo_sheet["entry"]}"' in page
    level = demo_sheet["answers"]["governance"]["level"]
    assert f'data-level="{level}"' in page
    entry = get_entry("mutualab")
    save_evaluation(entry, None, {"title": "Assemblée", "held_on": "2025-01-10",
                                  "state": "published",
                                  "answers": {"governance": {"level": 4}}},
                    author=Author(user=accounts["editor"]), expected_version=None)
    page = client.get("/keys/governance").get_data(as_text=True)
    rows = re.findall(r'<tr data-entry="([\w-]+)">', page)
    assert rows[0] == "mutualab" and demo_sheet["entry"] in rows  # highest level first
    assert client.get("/keys/vibes").status_code == 404


def test_the_printable_sheet_has_a_print_stylesheet(client):
    sheet_id = client.get("/api/v1/entries/la-coroutine/evaluations").get_json()["items"][0][
        "id"]
    html = client.get(f"/entries/la-coroutine/sheets/{sheet_id}").get_data(as_text=True)
    assert 'href="/static/css/print.css" media="print"' in html
    css = client.get("/static/css/print.css").get_data(as_text=True)
    assert "size: A4" in css
