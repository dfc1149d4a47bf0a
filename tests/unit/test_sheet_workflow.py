"""The sheet workflow of a meeting: evaluate from an entry's page, start from the last sheet,
level definitions, the sheets page, the evolution chart, and the live co-editing route
(app/editor/live.py) with the save that merges edits made meanwhile."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.models import Evaluation
from app.services.entries import get_entry
from app.services.evaluations import save_evaluation, snapshot
from app.services.revisions import Author
from tests.support.editor import csrf_token, form_pairs, form_values, login, replaced


def coroutine_sheet() -> Evaluation:
    entry = get_entry("la-coroutine")
    return db.session.scalar(select(Evaluation).where(Evaluation.entry_id == entry.id,
                                                      Evaluation.deleted_at.is_(None)))


def live(client, sheet, token, *, client_id=None, since=0, changes=(), focus=None):
    return client.post(f"/editor/sheets/{sheet.id}/live", json={
        "client": str(client_id or uuid.uuid4()), "since": since, "focus": focus,
        "changes": [dict(zip(("field", "base", "value"), c, strict=True)) for c in changes]},
        headers={"X-CSRFToken": token})


def test_two_editors_typing_in_one_field_both_keep_their_words(client, app, accounts):
    sheet = coroutine_sheet()
    other = app.test_client()
    login(client, "editor")
    login(other, "admin")
    url = f"/editor/sheets/{sheet.id}/edit"
    mine, theirs = csrf_token(client, url), csrf_token(other, url)
    base = snapshot(sheet)["answers"]["sharing"]["stakes"] or ""
    limits = snapshot(sheet)["answers"]["legal"]["limits"] or ""
    a, b = uuid.uuid4(), uuid.uuid4()
    first = live(client, sheet, mine, client_id=a,
                 changes=[("sharing-stakes", base, base + " Première phrase.")])
    assert first.status_code == 200, first.get_data(as_text=True)
    # The other page still starts from the saved text: both sentences are kept.
    second = live(other, sheet, theirs, client_id=b, focus="sharing-stakes",
                  changes=[("sharing-stakes", base, base + " Seconde phrase."),
                           ("legal-limits", limits, "Un autre champ.")]).get_json()
    merged = second["applied"][0]["value"]
    assert "Première phrase." in merged and "Seconde phrase." in merged
    assert second["applied"][1]["value"] == "Un autre champ."
    # The first page reads both changes, and sees who else is here and where.
    polled = live(client, sheet, mine, client_id=a,
                  since=first.get_json()["cursor"]).get_json()
    assert {c["field"]: c["value"] for c in polled["changes"]} == {
        "sharing-stakes": merged, "legal-limits": "Un autre champ."}  # replaced: one side
    assert polled["present"] == [{"name": accounts["admin"].display_name,
                                  "user": accounts["admin"].id, "field": "sharing-stakes"}]
    # Nothing is written to the sheet before a save.
    db.session.expire_all()
    assert (snapshot(sheet)["answers"]["sharing"]["stakes"] or "") == base
    # A save through the services (the API, a revert) reaches the open pages, merged with
    # what they typed and did not save yet.
    data = {k: v for k, v in snapshot(sheet).items()
            if k in ("title", "held_on", "authors", "state", "answers")}
    data["answers"]["sharing"]["stakes"] = "Par l’API. " + base
    save_evaluation(sheet.entry, sheet, data, author=Author(user=accounts["admin"]),
                    expected_version=sheet.version)
    after_api = live(client, sheet, mine, client_id=a,
                     since=polled["cursor"]).get_json()["changes"]
    assert [c["field"] for c in after_api] == ["sharing-stakes"]
    shared = after_api[0]["value"]
    assert shared.startswith("Par l’API. ")
    assert "Première phrase." in shared and "Seconde phrase." in shared


def test_the_live_route_is_for_editors_with_the_csrf_token(client, app, accounts):
    sheet = coroutine_sheet()
    url = f"/editor/sheets/{sheet.id}/live"
    assert client.post(url, json={"client": str(uuid.uuid4())}).status_code in (400, 403)
    contributor = app.test_client()
    login(contributor, "contributor")
    token = csrf_token(contributor, "/editor/")
    assert live(contributor, sheet, token).status_code == 403
    login(client, "editor")
    assert client.post(url, json={"client": str(uuid.uuid4())}).status_code == 400  # no token
    token = csrf_token(client, f"/editor/sheets/{sheet.id}/edit")
    refused = live(client, sheet, token, changes=[("nope-stakes", "", "x")])
    assert refused.status_code == 422
    assert "nope-stakes" in refused.get_json()["error"]


def test_a_stale_save_of_another_field_is_merged_not_refused(client, accounts):
    sheet = coroutine_sheet()
    entry = sheet.entry
    login(client, "editor")
    url = f"/editor/sheets/{sheet.id}/edit"
    opened = form_pairs(client.get(url).get_data(as_text=True), "sheet-form")
    data = {k: v for k, v in snapshot(sheet).items()
            if k in ("title", "held_on", "authors", "state", "answers")}
    data["answers"]["governance"]["strengths"] = "Le texte de l'autre éditrice."
    save_evaluation(entry, sheet, data, author=Author(user=accounts["admin"]),
                    expected_version=sheet.version)
    mine = replaced(opened, **{"legal-stakes": "Mon texte, dans un autre champ."})
    response = client.post(url, data=MultiDict(mine))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    db.session.expire_all()
    assert sheet.answer("governance").strengths == "Le texte de l'autre éditrice."
    assert sheet.answer("legal").stakes == "Mon texte, dans un autre champ."
    # The open pages are told what the save changed.
    token = csrf_token(client, url)
    changes = {c["field"]: c["value"] for c in live(client, sheet, token).get_json()["changes"]}
    assert changes["legal-stakes"] == "Mon texte, dans un autre champ."


def test_a_new_sheet_starts_from_the_last_one_with_a_new_title_and_date(client, accounts):
    sheet = coroutine_sheet()
    login(client, "editor")
    html = client.get(f"/editor/entries/{sheet.entry_id}/sheets/new?from=last").get_data(
        as_text=True)
    values = form_values(html, "sheet-form")
    assert values["title"] == ""
    assert values["held_on"] != sheet.held_on.isoformat()
    assert values["state"] == "draft"
    for answer in sheet.answers:
        assert values[f"{answer.key_slug}-level"] == ("" if answer.level is None
                                                      else str(answer.level))
        assert values[f"{answer.key_slug}-strengths"] == (answer.strengths or "")


def test_level_definitions_are_shown_beside_the_choice(client, accounts):
    sheet = coroutine_sheet()
    login(client, "editor")
    html = client.get(f"/editor/sheets/{sheet.id}/edit").get_data(as_text=True)
    block = html[html.index('id="governance-level-hint"'):]
    block = block[:block.index("</ol>")]
    assert "Personne ne sait qui décide." in block
    assert len(re.findall(r"<li ", block)) == 5
    assert 'aria-describedby="governance-level-hint"' in html


def test_evaluate_from_the_entry_page_and_the_sheets_pages(client, accounts):
    public = client.get("/entries/la-coroutine").get_data(as_text=True)
    assert "evaluate-link" not in public
    login(client, "editor")
    page = client.get("/entries/la-coroutine").get_data(as_text=True)
    assert 'href="/entries/la-coroutine/sheets"' in page and "Évaluer" in page
    sheets = client.get("/entries/la-coroutine/sheets").get_data(as_text=True)
    assert "sheets/new?from=last" in sheets
    listing = client.get("/editor/sheets").get_data(as_text=True)
    assert "Fiches d’évaluation" in listing


def test_the_evolution_chart_draws_one_line_per_key(client, accounts):
    sheet = coroutine_sheet()
    data = {k: v for k, v in snapshot(sheet).items()
            if k in ("authors", "state", "answers")}
    data.update(title="Assemblée suivante", held_on="2099-01-01", state="published")
    data["answers"]["governance"]["level"] = 4
    save_evaluation(sheet.entry, None, data, author=Author(user=accounts["admin"]),
                    expected_version=None)
    html = client.get("/entries/la-coroutine/sheets").get_data(as_text=True)
    assert 'class="evolution-chart"' in html
    chart = html[html.index('class="evolution-chart"'):html.index("</svg>")]
    assert chart.count("<polyline") >= 1
    table = html[html.index('class="evolution-table"'):]
    table = table[:table.index("</table>")]
    assert re.search(r"Gouvernance</th>(<td>[^<]*</td>)*<td>4</td></tr>", table)


def test_login_comes_back_to_the_page_it_was_opened_from(client, accounts):
    page = client.get("/entries/la-coroutine").get_data(as_text=True)
    assert 'href="/login?next=/entries/la-coroutine"' in page
    token = csrf_token(client, "/login?next=/entries/la-coroutine")
    response = client.post("/login", data={"csrf_token": token, "email": "edith@example.org",
                                           "password": "correct horse battery",
                                           "next": "/entries/la-coroutine"})
    assert response.headers["Location"].endswith("/entries/la-coroutine")
    assert client.get("/login?next=//evil.example/").headers["Location"].endswith("/editor/")


def test_level_definitions_travel_in_the_data_package_and_back(session):
    import json

    from app.exports.tables import EVALUATION_KEYS
    from app.query.filters import EntryFilter
    from app.restore import level_definitions

    rows = db.session.execute(EVALUATION_KEYS.query(EntryFilter(), "ODbL-1.0")).all()
    assert len(EVALUATION_KEYS.header) == len(rows[0])
    by_slug = {row[0]: row[EVALUATION_KEYS.header.index("level_definitions")] for row in rows}
    written = by_slug["governance"]
    assert json.loads(written)["fr"][0] == "Personne ne sait qui décide."
    assert level_definitions(written) == json.loads(written)
    assert level_definitions(None) == {}
    assert level_definitions('{"fr": ["trop court"], "de": [1, 2, 3, 4, 5]}') == {}


class Page:
    """One open sheet page, following static/js/sheet-live.js for one text field."""

    def __init__(self, client, token, sheet, field, value):
        self.client, self.token, self.sheet, self.field = client, token, sheet, field
        self.local = self.shadow = value
        self.seq = self.cursor = 0
        self.id = uuid.uuid4()

    def type(self, rng, word):
        cuts = [0, len(self.local)] + [n for n, ch in enumerate(self.local) if ch == " "]
        at = rng.choice(cuts)
        self.local = f"{self.local[:at]} {word} {self.local[at:]}"

    def tick(self, typed_meanwhile=None):
        sent = self.local
        changes = [(self.field, self.shadow, sent)] if sent.strip() != self.shadow else []
        body = live(self.client, self.sheet, self.token, client_id=self.id, since=self.cursor,
                    changes=changes).get_json()
        if typed_meanwhile:
            typed_meanwhile(self)
        for a in body["applied"]:
            if self.local.strip() == sent.strip():
                self.local = self.shadow = a["value"]
            else:
                self.shadow = sent.strip()
            self.seq = max(self.seq, a["seq"])
        for c in body["changes"]:
            if c["seq"] <= self.seq or self.local.strip() != self.shadow:
                continue
            self.local = self.shadow = c["value"]
            self.seq = c["seq"]
        self.cursor = max(self.cursor, body["cursor"])


def test_two_pages_typing_at_random_in_one_field_lose_no_word(client, app, accounts):
    """The protocol of sheet-live.js, played with random typing (some of it while a call
    is on its way): in the end both pages show one text, with every word either typed."""
    import random

    sheet = coroutine_sheet()
    other = app.test_client()
    login(client, "editor")
    login(other, "admin")
    url = f"/editor/sheets/{sheet.id}/edit"
    start = snapshot(sheet)["answers"]["sharing"]["limits"] or ""
    pages = [Page(c, csrf_token(c, url), sheet, "sharing-limits", start)
             for c in (client, other)]
    rng = random.Random(5)
    typed = []

    def new_word() -> str:
        typed.append(f"mot{len(typed)}")
        return typed[-1]

    for _ in range(80):
        page = rng.choice(pages)
        action = rng.random()
        if action < 0.5:
            page.type(rng, new_word())
        elif action < 0.75:
            page.tick()
        else:
            page.tick(lambda p: p.type(rng, new_word()))
    for _ in range(4):
        for page in pages:
            page.tick()
    assert pages[0].local == pages[1].local
    final = pages[0].local
    missing = [w for w in typed if w not in final.split()]
    assert missing == [], (missing, final)
    assert all(w in final for w in start.split())


def test_a_restored_draft_changes_only_what_it_typed(client, accounts):
    """A browser draft kept since version 1 comes back on a page at version 2: its stale
    copy of a field someone changed meanwhile does not undo that change."""
    sheet = coroutine_sheet()
    opened = sheet.version
    old = snapshot(sheet)["answers"]
    data = {k: v for k, v in snapshot(sheet).items()
            if k in ("title", "held_on", "authors", "state", "answers")}
    data["answers"]["governance"]["strengths"] = "Changé par une autre éditrice."
    save_evaluation(sheet.entry, sheet, data, author=Author(user=accounts["admin"]),
                    expected_version=sheet.version)
    login(client, "editor")
    token = csrf_token(client, f"/editor/sheets/{sheet.id}/edit")
    body = {"client": str(uuid.uuid4()), "since": 0, "changes": [
        {"field": "governance-strengths", "base_version": opened,
         "value": old["governance"]["strengths"]},
        {"field": "legal-stakes", "base_version": opened, "value": "Tapé dans le brouillon."}]}
    applied = {a["field"]: a["value"] for a in client.post(
        f"/editor/sheets/{sheet.id}/live", json=body,
        headers={"X-CSRFToken": token}).get_json()["applied"]}
    assert applied == {"governance-strengths": "Changé par une autre éditrice.",
                       "legal-stakes": "Tapé dans le brouillon."}
    body["changes"][0]["base_version"] = 99
    refused = client.post(f"/editor/sheets/{sheet.id}/live", json=body,
                          headers={"X-CSRFToken": token})
    assert refused.status_code == 422 and "no version 99" in refused.get_json()["error"]
