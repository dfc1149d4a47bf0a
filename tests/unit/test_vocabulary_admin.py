"""Keys and tags administered on pages: add, rename, reorder, retire, merge; each a revision.

Through the editors' pages with the Flask test client (CSRF tokens as a browser
sends them), against the demo database; each test's writes are rolled back.
"""

from __future__ import annotations

import re

from sqlalchemy import select, text
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.models import Entry, Evaluation, EvaluationKey, Proposal, Revision, Tag
from app.services.entries import get_entry, snapshot
from app.services.evaluation_keys import ENTITY, key_revision_id
from app.services.proposals import propose_edit
from app.services.revisions import Author, revisions_of
from app.services.tags import tag_revision_id
from tests.support.editor import csrf_token, field_error, form_pairs, login, post_form

NEW_KEY = {
    "slug": "ecology", "label_fr": "Écologie", "label_en": "Ecology",
    "question_fr": "Quelle est l'empreinte du commun ?",
    "question_en": "What is the footprint of the commons?",
    "description_fr": "Sobriété, réemploi.", "description_en": "",
    **{f"level-fr-{n}": f"Niveau {n} : définition" for n in range(5)},
    "level-en-0": "Nothing yet",
}


def key_order(html: str) -> list[str]:
    """The keys of a sheet form, in the order shown."""
    return re.findall(r'<fieldset class="sheet-key-form" id="key-([a-z0-9-]+)"', html)


def coroutine_sheet() -> Evaluation:
    return db.session.scalar(select(Evaluation).join(Entry).where(Entry.slug == "la-coroutine"))


def test_a_key_is_added_renamed_reordered_and_retired_on_pages(client, accounts):
    entry = get_entry("mutualab")
    login(client, "editor")
    assert 'data-key="governance"' in client.get("/editor/keys").get_data(as_text=True)

    # Added: last in new sheets, with its level definitions.
    response = post_form(client, "/editor/keys/new", NEW_KEY)
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    key = db.session.get(EvaluationKey, "ecology")
    assert key.label_fr == "Écologie" and key.position == 7
    assert key.level_definitions["fr"][4] == "Niveau 4 : définition"
    assert key.level_definitions["en"] == ["Nothing yet", "", "", "", ""]
    new_sheet = f"/editor/entries/{entry.id}/sheets/new"
    assert key_order(client.get(new_sheet).get_data(as_text=True))[-1] == "ecology"

    # Renamed: its labels change, its address stays.
    pairs = form_pairs(client.get("/editor/keys/ecology/edit").get_data(as_text=True),
                       "key-form")
    values = MultiDict([(k, v) for k, v in pairs if k not in ("label_fr", "comment")])
    values.add("label_fr", "Écologie et sobriété")
    values.add("comment", "plus précis")
    assert client.post("/editor/keys/ecology/edit", data=values).status_code == 303
    db.session.expire_all()
    assert db.session.get(EvaluationKey, "ecology").label_fr == "Écologie et sobriété"

    # Reordered: up one, before "partners", in the form of every new sheet.
    token = csrf_token(client, "/editor/keys")
    assert client.post("/editor/keys/ecology/move", data={
        "csrf_token": token, "direction": "up"}).status_code == 303
    order = key_order(client.get(new_sheet).get_data(as_text=True))
    assert order[-2:] == ["ecology", "partners"]

    # Retired: out of new sheets; the old sheet keeps and shows its answer.
    old = coroutine_sheet()
    governance = old.answer("governance").strengths
    assert client.post("/editor/keys/governance/retire",
                       data={"csrf_token": token}).status_code == 303
    assert "governance" not in key_order(client.get(new_sheet).get_data(as_text=True))
    public = client.get(f"/entries/la-coroutine/sheets/{old.id}").get_data(as_text=True)
    assert 'id="key-governance"' in public and "géré par celles et ceux" in public
    listed = {k["slug"]: k for k in client.get("/api/v1/evaluation-keys").get_json()["items"]}
    assert listed["governance"]["retired_at"] and listed["ecology"]["retired_at"] is None
    # Editing the old sheet keeps the retired key's answer (shown, sent back, kept).
    edit = f"/editor/sheets/{old.id}/edit"
    page = client.get(edit).get_data(as_text=True)
    assert "governance" in key_order(page)
    pairs = form_pairs(page, "sheet-form")
    pairs = [(k, v if k != "title" else v + " (relue)") for k, v in pairs]
    assert client.post(edit, data=MultiDict(pairs)).status_code == 303
    db.session.expire_all()
    assert coroutine_sheet().answer("governance").strengths == governance
    assert coroutine_sheet().title.endswith("(relue)")
    # A new sheet cannot answer it.
    pairs = form_pairs(client.get(new_sheet).get_data(as_text=True), "sheet-form")
    pairs = [(k, v) for k, v in pairs if k not in ("title",)] + [
        ("title", "Assemblée 2026"), ("governance-strengths", "ajouté à la main")]
    assert client.post(new_sheet, data=MultiDict(pairs)).status_code == 303
    created = db.session.scalar(select(Evaluation).where(Evaluation.title == "Assemblée 2026"))
    assert created.answer("governance") is None

    # Every change is a revision, shown in the key's history in French.
    actions = [r.action for r in revisions_of(ENTITY, key_revision_id("ecology"))]
    assert actions == ["create", "update", "update"]
    assert [r.action for r in revisions_of(ENTITY, key_revision_id("governance"))] == ["retire"]
    history = client.get("/editor/keys/ecology/history").get_data(as_text=True)
    assert "Écologie et sobriété" in history and "plus précis" in history
    assert "Ordre modifié" in history


def test_key_pages_refuse_contributors_bad_input_and_forms_without_a_token(client, accounts):
    login(client, "contributor")
    assert client.get("/editor/keys").status_code == 403
    token = csrf_token(client, "/editor/")
    assert client.post("/editor/keys/governance/retire",
                       data={"csrf_token": token}).status_code == 403
    client.post("/logout", data={"csrf_token": token})
    login(client, "editor")
    assert client.post("/editor/keys/governance/retire").status_code == 400  # no CSRF token
    response = post_form(client, "/editor/keys/new", {**NEW_KEY, "slug": "governance",
                                                      "label_en": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "existe déjà" in field_error(html, "slug")
    assert field_error(html, "label_en")
    assert 'value="Écologie"' in html  # what was typed stays
    db.session.expire_all()
    assert db.session.get(EvaluationKey, "governance").retired_at is None
    assert db.session.get(EvaluationKey, "governance").label_en == "Governance"


def test_two_tags_are_merged_with_their_entries_carried_over(client, accounts, session):
    tags = {t.slug: t for t in db.session.scalars(select(Tag))}
    # Two tags of the demo, and one entry carrying both (it keeps one link).
    source, target = tags["coworking"], tags["fablab"]
    carried = set(db.session.scalars(text(
        "SELECT e.slug FROM entries e JOIN entry_tags et ON et.entry_id = e.id "
        "WHERE et.tag_id = :t"), {"t": source.id}))
    assert carried
    both = get_entry(sorted(carried)[0])
    db.session.execute(text("INSERT INTO entry_tags VALUES (:e, :t) ON CONFLICT DO NOTHING"),
                       {"e": both.id, "t": target.id})
    db.session.commit()
    versions = {slug: get_entry(slug).version for slug in carried}
    # A contributor's pending edit names the merged tag.
    other = db.session.scalar(select(Entry).where(
        Entry.moderation == "published", Entry.slug.not_in(carried)).order_by(Entry.slug))
    pending = propose_edit(other, {"tags": [*snapshot(other)["tags"], "coworking"]},
                           author=Author(user=accounts["contributor"]),
                           base_version=other.version)
    assert "coworking" in pending.data["tags"]

    # Merging is the admins' (an editor's 403: tests/unit/test_write_routes.py).
    login(client, "admin")
    response = post_form(client, "/editor/tags/merge", {
        "source": source.id, "target": target.id, "comment": "même activité"},
        token_from="/editor/tags")
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]

    db.session.expire_all()
    assert db.session.get(Tag, source.id) is None
    for slug in carried:
        entry = get_entry(slug)
        tags_now = snapshot(entry)["tags"]
        assert "coworking" not in tags_now and "fablab" in tags_now
        assert tags_now.count("fablab") == 1
        assert entry.version == versions[slug] + 1  # written once: feed, ETag, revision
        latest = revisions_of("entry", entry.id)[-1]
        assert latest.snapshot["tags"] == tags_now
        assert latest.comment == "Tag coworking merged into fablab: même activité"
        feature = db.session.scalar(text(
            "SELECT feature FROM entry_features WHERE entry_id = :e"), {"e": entry.id})
        assert '"fablab"' in feature and '"coworking"' not in feature
    assert db.session.get(Proposal, pending.id).data["tags"].count("fablab") == 1
    assert "coworking" not in db.session.get(Proposal, pending.id).data["tags"]
    api = client.get("/api/v1/entries?tag=fablab&limit=1000").get_json()
    assert carried <= {f["slug"] for f in api["items"]}
    assert client.get("/api/v1/entries?tag=coworking").status_code in (200, 400)
    # Both tags' histories tell it.
    merged = db.session.scalars(select(Revision).where(
        Revision.entity_type == "tag",
        Revision.entity_id.in_([tag_revision_id(source.id), tag_revision_id(target.id)])))
    assert sorted(r.action for r in merged) == ["merge", "merge"]
    history = client.get(f"/editor/tags/{target.id}/history").get_data(as_text=True)
    assert "Étiquette coworking fusionnée dans fablab : même activité" in history


def test_a_tag_is_added_and_renamed_on_pages(client, accounts):
    login(client, "editor")
    response = post_form(client, "/editor/tags/new", {
        "slug": "jardin-partage", "label_fr": "Jardin partagé", "label_en": "Shared garden",
        "group": "activity", "description_fr": "Des parcelles cultivées ensemble."})
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    tag = db.session.scalar(select(Tag).where(Tag.slug == "jardin-partage"))
    assert tag.description_fr == "Des parcelles cultivées ensemble."
    response = post_form(client, f"/editor/tags/{tag.id}/edit", {
        "label_fr": "Jardins partagés", "label_en": "Shared gardens", "group": "theme"})
    assert response.status_code == 303
    db.session.expire_all()
    assert (tag.label_fr, tag.group, tag.slug) == ("Jardins partagés", "theme",
                                                   "jardin-partage")
    assert [r.action for r in revisions_of("tag", tag_revision_id(tag))] == ["create",
                                                                            "update"]
    assert "Jardins partagés" in client.get("/api/v1/tags").get_data(as_text=True)
    bad = post_form(client, "/editor/tags/new", {"slug": "Pas Un Slug"},
                    token_from="/editor/tags/new")
    assert bad.status_code == 422 and field_error(bad.get_data(as_text=True), "slug")
