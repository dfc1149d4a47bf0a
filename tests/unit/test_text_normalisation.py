"""Text is normalised once, on input: a save that changes nothing leaves the text as it was.

Browsers send a textarea's line ends as CRLF, programs send decomposed accents and
trailing blanks: every writer (forms, the JSON API, imports, the migration of what is
already stored) must store the same text for the same words, so that a save of an
unchanged form writes nothing and shows no change in the history.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select, text
from werkzeug.datastructures import MultiDict

from app.extensions import db
from app.models import Evaluation, Revision
from app.normalise import normalise_text
from app.services.entries import get_entry, save_entry
from app.services.revisions import Author
from app.services.tokens import create_token
from importers.csv_reader import read_csv
from importers.mapping import load_csv_mapping
from tests.support.api import fresh_app
from tests.support.editor import form_pairs, login
from tests.support.importer import entries_of, run_import

EDITOR = Author(label="test editor")
LINES = "Première ligne\nDeuxième ligne\n\nUn second paragraphe."


def revision_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Revision))


# -- the function -------------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "stored"), [
    ("a\r\nb\rc\n", "a\nb\nc\n"),
    ("Cafe\u0301", "Caf\u00e9"),
    ("fin de ligne  \t\nsuite\t\n", "fin de ligne\nsuite\n"),
    # A Markdown hard line break (2+ spaces, then a line of the same paragraph) stays, as two.
    ("vers un   \nvers deux", "vers un  \nvers deux"),
    ("vers un  \r\nvers deux", "vers un  \nvers deux"),
    # ...but not before a blank line, at the end, or after a blank line.
    ("paragraphe  \n\nsuivant", "paragraphe\n\nsuivant"),
    ("dernier  ", "dernier"),
    ("   \nsuite", "\nsuite"),
    ("tabulation\t\t\nsuite", "tabulation\nsuite"),
    ("déjà propre\n", "déjà propre\n"),
])
def test_normalise_text(given, stored):
    assert normalise_text(given) == stored
    assert normalise_text(stored) == stored


# -- forms -------------------------------------------------------------------------------------

def test_saving_an_unchanged_form_sent_with_crlf_writes_nothing(client, accounts):
    entry = get_entry("mutualab")
    save_entry(entry, {"description": LINES}, author=EDITOR, expected_version=entry.version)
    version, revisions = entry.version, revision_count()
    login(client, "editor")
    url = f"/editor/entries/{entry.id}/edit"
    pairs = form_pairs(client.get(url).get_data(as_text=True), "entry-form")
    assert ("description", LINES) in pairs
    # What a browser sends for a textarea: CRLF line ends.
    sent = [(k, v.replace("\n", "\r\n")) for k, v in pairs]
    response = client.post(url, data=MultiDict(sent))
    assert response.status_code == 303, response.get_data(as_text=True)[:1000]
    db.session.expire_all()
    entry = get_entry("mutualab")
    assert (entry.version, entry.description, revision_count()) == (version, LINES, revisions)


def test_saving_an_unchanged_sheet_sent_with_crlf_writes_nothing(client, accounts):
    sheet = db.session.scalars(select(Evaluation).where(
        Evaluation.deleted_at.is_(None))).first()
    login(client, "editor")
    url = f"/editor/sheets/{sheet.id}/edit"
    pairs = form_pairs(client.get(url).get_data(as_text=True), "sheet-form")
    texts = [(k, v) for k, v in pairs if k.endswith("-strengths") and v]
    assert texts, pairs
    name = texts[0][0]
    pairs = [(k, LINES if k == name else v) for k, v in pairs]
    response = client.post(url, data=MultiDict(pairs))
    assert response.status_code == 303, response.get_data(as_text=True)[:1000]
    db.session.expire_all()
    version, revisions = sheet.version, revision_count()
    pairs = form_pairs(client.get(url).get_data(as_text=True), "sheet-form")
    assert (name, LINES) in pairs
    sent = [(k, v.replace("\n", "\r\n")) for k, v in pairs]
    response = client.post(url, data=MultiDict(sent))
    assert response.status_code == 303, response.get_data(as_text=True)[:1000]
    db.session.expire_all()
    assert (sheet.version, revision_count()) == (version, revisions)
    key = name.removesuffix("-strengths")
    assert next(a.strengths for a in sheet.answers if a.key_slug == key) == LINES


# -- the JSON API --------------------------------------------------------------------------------

def test_api_writes_store_lf_and_nfc(client, accounts):
    token = create_token(accounts["editor"], "normalisation")[0]
    body = {"kind": "initiative", "name": "Cafe\u0301 des voisins",
            "description": "Line one\r\nLine two  \r\n\r\nCre\u0301pes"}
    response = client.post("/api/v1/entries", json=body,
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.get_json()
    entry = get_entry(response.get_json()["id"])
    assert entry.name == "Caf\u00e9 des voisins"
    assert entry.description == "Line one\nLine two\n\nCr\u00e9pes"
    # Sending the same text again (as sent, not as stored) is no change.
    etag = response.headers["ETag"]
    again = client.patch(f"/api/v1/entries/{entry.id}", json={
        "description": body["description"], "name": body["name"]},
        headers={"Authorization": f"Bearer {token}", "If-Match": etag})
    assert again.status_code == 200, again.get_json()
    assert again.headers["ETag"] == etag


# -- imports -------------------------------------------------------------------------------------

MAPPING = """
name = "normalisation-test"
key = "Identifiant"
kind_column = "Type"

[kind_values]
"Initiative" = "initiative"

[columns]
name = "Nom"
description = "Description"
"""


def test_a_csv_import_stores_lf_for_a_crlf_inside_a_quoted_field(session, tmp_path: Path):
    mapping_path = tmp_path / "normalisation.toml"
    mapping_path.write_text(MAPPING, encoding="utf-8")
    path = tmp_path / "lieux.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(["Identifiant", "Type", "Nom", "Description"])
        writer.writerow(["n-1", "Initiative", "Re\u0301parer ensemble",
                         "Premier paragraphe.  \r\nSuite du paragraphe.\r\n\r\nFin."])
    mapping = load_csv_mapping(mapping_path)
    assert b"\r\nSuite" in path.read_bytes()
    result = run_import(mapping, read_csv(path, mapping))
    assert result.counts["created"] == 1, result.report
    entry = entries_of("csv:normalisation-test")["n-1"]
    assert entry.name == "R\u00e9parer ensemble"
    assert entry.description == "Premier paragraphe.  \nSuite du paragraphe.\n\nFin."
    # The same file again: nothing to change.
    again = run_import(mapping, read_csv(path, mapping))
    assert again.counts["unchanged"] == 1 and again.counts["updated"] == 0, again.report


def test_a_csv_row_with_a_nul_character_is_rejected_by_row_and_column(session,
                                                                      tmp_path: Path):
    mapping_path = tmp_path / "normalisation.toml"
    mapping_path.write_text(MAPPING, encoding="utf-8")
    path = tmp_path / "lieux.csv"
    path.write_bytes("Identifiant,Type,Nom,Description\n"
                     "n-1,Initiative,Un nom,avant\x00après\n"
                     "n-2,Initiative,Un autre nom,propre\n".encode())
    mapping = load_csv_mapping(mapping_path)
    result = run_import(mapping, read_csv(path, mapping))
    assert result.counts["created"] == 1 and result.counts["rejected"] == 1, result.report
    [line] = [r for r in result.report if r["kind"] == "rejected"]
    assert (line["row"], line["field"]) == (2, "Description") and "NUL" in line["reason"]
    assert set(entries_of("csv:normalisation-test")) == {"n-2"}


# -- the migration of stored text ----------------------------------------------------------------

def test_migration_0008_normalises_stored_text_without_revisions(databases):
    """Rows written as sent before 0008 (plain SQL here): normalised, no revision added."""
    app = fresh_app(databases, "normalise_migration")
    with app.app_context():
        downgrade(revision="0007")
        with db.engine.begin() as conn:
            conn.execute(text(
                "UPDATE entries SET description = :d, name = :n WHERE slug = 'mutualab'"),
                {"d": "Ligne un  \r\nligne deux\r\n\r\nfin\t", "n": "Mutualab e\u0301te\u0301"})
            conn.execute(text("UPDATE answers SET strengths = :s WHERE id = "
                              "(SELECT min(id) FROM answers)"), {"s": "Atout\r\nun autre\r"})
            # The latest revision holds the same text, as the write stored it then.
            conn.execute(text(
                "UPDATE revisions SET snapshot = jsonb_set(snapshot, '{description}', "
                "to_jsonb(CAST(:d AS text))) WHERE id = (SELECT max(r.id) FROM revisions r "
                "JOIN entries e ON e.id = r.entity_id WHERE e.slug = 'mutualab')"),
                {"d": "Ligne un  \r\nligne deux\r\n\r\nfin"})
            before = conn.execute(text(
                "SELECT (SELECT count(*) FROM revisions), version FROM entries "
                "WHERE slug = 'mutualab'")).one()
            answer_id = conn.execute(text("SELECT min(id) FROM answers")).scalar()
        upgrade()
        with db.engine.connect() as conn:
            row = conn.execute(text(
                "SELECT name, description, version, (SELECT count(*) FROM revisions) "
                "FROM entries WHERE slug = 'mutualab'")).one()
            assert row.name == "Mutualab \u00e9t\u00e9"
            assert row.description == "Ligne un  \nligne deux\n\nfin"
            assert (row.count, row.version) == tuple(before)
            assert conn.execute(text("SELECT strengths FROM answers WHERE id = :i"),
                                {"i": answer_id}).scalar() == "Atout\nun autre"
            assert conn.execute(text(
                "SELECT snapshot->>'description' FROM revisions WHERE id = (SELECT max(r.id) "
                "FROM revisions r JOIN entries e ON e.id = r.entity_id "
                "WHERE e.slug = 'mutualab')")).scalar() == "Ligne un  \nligne deux\n\nfin"
            # The stored features (migration 0007's triggers) follow the new text.
            stale = conn.execute(text(
                "SELECT count(*) FROM entry_features f "
                "WHERE f.feature IS DISTINCT FROM public.atlas_feature(f.entry_id)")).scalar()
            assert stale == 0
            assert "Ligne un  \\nligne deux" in conn.execute(text(
                "SELECT f.feature FROM entry_features f JOIN entries e ON e.id = f.entry_id "
                "WHERE e.slug = 'mutualab'")).scalar()
        db.engine.dispose()


def test_a_proposal_keeps_its_notes_and_content_normalised(session, accounts):
    from app.services.proposals import propose_edit, reject

    entry = get_entry("mutualab")
    proposal = propose_edit(entry, {"summary": "Un re\u0301sume\u0301\r\nsur deux lignes"},
                            author=Author(user=accounts["contributor"]),
                            base_version=entry.version, comment="Vu sur place,\t\r\nhier")
    assert proposal.data["summary"] == "Un r\u00e9sum\u00e9\nsur deux lignes"
    assert proposal.comment == "Vu sur place,\nhier"
    reject(proposal, reviewer=accounts["editor"], comment="Pas sûr\r\ndu tout")
    assert proposal.review_comment == "Pas sûr\ndu tout"


def test_a_nul_character_is_a_field_error_for_every_writer(session):
    """Imports, sync and dumps reach the schema without the web's guard: NUL is refused
    there too, by field, before anything is written."""
    from app.services.errors import WriteValidationError

    entry = get_entry("mutualab")
    with pytest.raises(WriteValidationError) as refused:
        save_entry(entry, {"description": "avant\x00après"}, author=EDITOR,
                   expected_version=entry.version)
    assert list(refused.value.messages) == ["description"]
    assert get_entry("mutualab").description != "avant\x00après"
