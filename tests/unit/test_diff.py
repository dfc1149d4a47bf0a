"""Field-by-field differences of snapshots, as the history and review pages show them."""

from app.editor.diff import entry_changes, inline_diff, sheet_changes
from app.services.entries import get_entry, snapshot


def test_inline_diff_marks_words_and_escapes_everything():
    html = str(inline_diff("Un lieu <b>ouvert</b> à tous", "Un lieu fermé à tous <script>"))
    assert html.startswith("Un lieu ")
    assert "<del>&lt;b&gt;ouvert&lt;/b&gt; </del><ins>fermé </ins>" in html
    assert "&lt;script&gt;</ins>" in html and "<script>" not in html


def test_a_rewritten_sentence_is_one_change_not_word_salad():
    html = str(inline_diff("Le lieu est ouvert le lundi.", "Nouveau texte complet ici."))
    assert html.count("<del>") == 1 and html.count("<ins>") == 1


def test_entry_changes_name_only_what_differs_in_readers_words(app, session):
    entry = get_entry("mutualab")
    old = snapshot(entry)
    new = {**old, "city": "Roubaix", "tags": ["coworking"], "moderation": "pending"}
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        changes = {c.key: (c.label, c.old, c.new) for c in entry_changes(old, new, "fr")}
    assert changes == {"city": ("Ville", "Lille", "Roubaix"),
                       "tags": ("Étiquettes", changes["tags"][1], "Coworking"),
                       "moderation": ("Modération", "Publiée", "En attente")}
    assert "Coworking" in changes["tags"][1] and "Makerspace" in changes["tags"][1]


def test_a_first_version_lists_its_filled_fields_only(app, session):
    with app.test_request_context():
        created = snapshot(get_entry("loomio"))
        keys = {c.key for c in entry_changes(None, created, "en")}
    assert "name" in keys and "street" not in keys  # Loomio has no street


def test_sheet_changes_go_key_by_key_and_part_by_part(app, session):
    old = {"title": "A", "held_on": "2025-01-01", "authors": None, "state": "draft",
           "answers": {"governance": {"level": 2, "strengths": "x", "limits": None,
                                      "stakes": None}}}
    new = {**old, "state": "published",
           "answers": {"governance": {"level": 3, "strengths": "x", "limits": None,
                                      "stakes": None},
                       "legal": {"level": None, "strengths": "Loi 1901", "limits": None,
                                 "stakes": None}}}
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        changes = [(c.key, c.label, c.new) for c in sheet_changes(old, new, "fr")]
    assert changes == [("state", "État", "Publiée"),
                       ("answers.governance.level", "Gouvernance · Niveau", "3"),
                       ("answers.legal.strengths", "Juridique · Solutions et atouts",
                        "Loi 1901")]
