"""The three-way merge of one text field keeps every character either side typed."""

from app.services.textmerge import merge3, merge3_strict


def test_changes_in_different_places_both_apply():
    base = "Début. Fin."
    assert merge3(base, "Début. Ajout au milieu. Fin.", "Début. Fin. Et encore.") == \
        "Début. Ajout au milieu. Fin. Et encore."
    assert merge3("The cat sat.", "The dog sat.", "The cat sat on the mat.") == \
        "The dog sat on the mat."


def test_one_side_unchanged_takes_the_other_even_a_deletion():
    assert merge3("a b c", "a b c", "a c") == "a c"
    assert merge3("a b c", "a c", "a b c") == "a c"


def test_typing_on_from_what_the_other_side_already_has_is_no_clash():
    # The other side's text was merged in; this side typed on from an older copy.
    assert merge3("Wor", "Hello Wor", "World") == "Hello World"
    assert merge3_strict("", "A B", "A B C") == "A B C"


def test_both_typing_in_the_same_place_keeps_both_texts_whole():
    first, second = "Le texte de la première éditrice.", "Le texte du second éditeur."
    merged = merge3("", first, second)
    assert first in merged and second in merged
    assert merge3_strict("", first, second) is None
    assert merge3_strict("x", "y", "z") is None


def test_long_texts_merge_by_line():
    base = "".join(f"ligne {n}\n" for n in range(3000))
    theirs = base.replace("ligne 10\n", "ligne dix\n")
    mine = base + "la suite\n"
    merged = merge3(base, theirs, mine)
    assert "ligne dix\n" in merged and merged.endswith("la suite\n")
    assert "ligne 10\n" not in merged


def test_a_word_changed_by_both_is_kept_both_ways_not_cut_into_letters():
    assert merge3("le chat", "le chien", "le chaton") == "le chaton chien"


def test_long_texts_merge_fast():
    import time

    base = "".join(f"La phrase numéro {n} du commun et des lieux. " for n in range(500))
    theirs = base.replace("numéro 100 ", "numéro cent ")
    mine = base.replace("numéro 400 ", "numéro quatre cents ")
    started = time.perf_counter()
    merged = merge3(base, theirs, mine)
    assert time.perf_counter() - started < 0.5  # a row lock is held meanwhile
    assert "numéro cent " in merged and "numéro quatre cents " in merged


def test_merging_letters_never_cuts_a_word_in_two():
    # Found by playing the page protocol at random: letter by letter, "mot11" and "mot17"
    # shared their first letters and came out as "mot1 … 1".
    base = "documentation mot11  mot7"
    theirs = "documentation mot17  mot11  mot7"
    mine = "documentation mot11 mot16   mot7"
    merged = merge3(base, theirs, mine).split()
    assert {"mot11", "mot16", "mot17", "mot7"} <= set(merged)
