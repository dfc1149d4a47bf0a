"""Evaluation sheets go through the same guarded write path as entries."""

import pytest
from sqlalchemy import select

from app.models import Entry, Evaluation
from app.services.entries import get_entry
from app.services.errors import ConflictError, WriteValidationError
from app.services.evaluations import save_evaluation, snapshot
from app.services.revisions import Author, revisions_of

AUTHOR = Author(label="assembly")


def sheet(**answers):
    return {"title": "Assemblée des communs du 12 mars 2025", "held_on": "2025-03-12",
            "authors": "Assemblée", "state": "draft", "answers": answers}


def test_create_update_and_stale_write(session):
    entry = get_entry("mutualab")
    result = save_evaluation(entry, None, sheet(governance={"level": 2, "strengths": "Ouvert"}),
                             author=AUTHOR, expected_version=None)
    assert result.action == "created"
    evaluation = session.scalar(select(Evaluation).where(Evaluation.entry_id == entry.id))
    assert evaluation.version == 1
    assert [a.key_slug for a in evaluation.answers] == ["governance"]

    data = sheet(governance={"level": 3}, partners={"level": 1, "stakes": "Mairie"})
    assert save_evaluation(entry, evaluation, data, author=AUTHOR,
                           expected_version=1).action == "updated"
    assert evaluation.version == 2
    assert snapshot(evaluation)["answers"]["partners"]["stakes"] == "Mairie"
    assert save_evaluation(entry, evaluation, data, author=AUTHOR,
                           expected_version=2).action == "unchanged"
    with pytest.raises(ConflictError):
        save_evaluation(entry, evaluation, sheet(), author=AUTHOR, expected_version=1)
    assert [r.version for r in revisions_of("evaluation", evaluation.id)] == [1, 2]


def test_bad_levels_and_unknown_keys_are_named(session):
    entry = get_entry("mutualab")
    with pytest.raises(WriteValidationError) as excinfo:
        save_evaluation(entry, None, sheet(governance={"level": 9}), author=AUTHOR,
                        expected_version=None)
    assert excinfo.value.messages == {
        "answers.governance.level": ["A level from 0 to 4, or none."]}
    with pytest.raises(WriteValidationError) as excinfo:
        save_evaluation(entry, None, sheet(vibes={"level": 1}), author=AUTHOR,
                        expected_version=None)
    assert excinfo.value.messages == {"answers.vibes": ["Unknown evaluation key."]}
    assert session.scalar(select(Evaluation).join(Entry).where(Entry.slug == "mutualab")) \
        is None
