"""The one write path for evaluation sheets, with the same guarantees as entries."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Answer, Entry, Evaluation, EvaluationKey
from ..schemas import EvaluationInputSchema
from .entries import WriteResult, _flatten
from .errors import ConflictError, NotFoundError, WriteValidationError, coded
from .guard import guarded_write, set_tombstone
from .revisions import Author, note, record_revision, revision_at

SHEET_FIELDS = ("title", "held_on", "authors", "state")
ANSWER_FIELDS = ("level", "strengths", "limits", "stakes")


def evaluation_keys(sheet: Evaluation | None = None) -> list[EvaluationKey]:
    """The keys a sheet's form shows: the keys in use, plus the retired keys `sheet`
    already answered (a retired key stays readable and editable where it was answered)."""
    answered = {a.key_slug for a in sheet.answers} if sheet is not None else set()
    keys = db.session.scalars(select(EvaluationKey).order_by(EvaluationKey.position,
                                                             EvaluationKey.slug))
    return [k for k in keys if k.retired_at is None or k.slug in answered]


def answerable(key: EvaluationKey, held_on: date, answered: set[str]) -> bool:
    """Whether a sheet held on `held_on` may answer `key`: a key in use; a retired key
    on a sheet that answered it already, or of a meeting held before its retirement
    (a restored dump, the demo)."""
    return key.retired_at is None or key.slug in answered \
        or held_on < key.retired_at.date()


def snapshot(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "id": str(evaluation.id),
        "entry_id": str(evaluation.entry_id),
        "title": evaluation.title,
        "held_on": evaluation.held_on.isoformat(),
        "authors": evaluation.authors,
        "state": evaluation.state,
        "answers": {
            a.key_slug: {name: getattr(a, name) for name in ANSWER_FIELDS}
            for a in sorted(evaluation.answers, key=lambda a: a.position)
        },
        "deleted_at": evaluation.deleted_at.isoformat() if evaluation.deleted_at else None,
    }


def find_evaluation(entry: Entry, title: str, held_on: date) -> Evaluation | None:
    return db.session.scalar(select(Evaluation).where(
        Evaluation.entry_id == entry.id, Evaluation.title == title,
        Evaluation.held_on == held_on))


def save_evaluation(entry: Entry, evaluation: Evaluation | None, data: Mapping[str, Any], *,
                    author: Author, expected_version: int | None,
                    comment: str | None = None, commit: bool = True,
                    action: str | None = None,
                    evaluation_id: uuid.UUID | None = None) -> WriteResult:
    """Create (evaluation None) or update a sheet; answers are replaced by key.

    `evaluation_id` gives a new sheet its UUID (a restored dump keeps its ids).
    """
    creating = evaluation is None
    try:
        clean = EvaluationInputSchema().load(dict(data))
    except ValidationError as exc:
        raise WriteValidationError(_flatten(exc.messages)) from None
    answered = {a.key_slug for a in evaluation.answers} if not creating else set()
    keys = {k.slug: k for k in db.session.scalars(select(EvaluationKey))
            if answerable(k, clean["held_on"], answered)}
    unknown = sorted(set(clean["answers"]) - set(keys))
    if unknown:
        raise WriteValidationError({f"answers.{k}": [coded(
            "unknown_key", "Unknown evaluation key.")] for k in unknown})
    if not creating and expected_version is not None and evaluation.version != expected_version:
        raise ConflictError("evaluation", evaluation.id, expected_version, evaluation.version)

    desired = {
        "title": clean["title"], "held_on": clean["held_on"].isoformat(),
        "authors": clean.get("authors"), "state": clean["state"],
        "answers": {slug: {name: clean["answers"][slug].get(name) for name in ANSWER_FIELDS}
                    for slug in sorted(clean["answers"], key=lambda s: keys[s].position)},
    }
    if not creating:
        current = snapshot(evaluation)
        if all(current[k] == desired[k] for k in desired):
            return WriteResult(entry, "unchanged", evaluation)

    if creating:
        evaluation = Evaluation(id=evaluation_id or uuid.uuid4(), entry_id=entry.id)
    with guarded_write("evaluation", evaluation, expected_version, _refused):
        with db.session.no_autoflush:
            if creating:
                db.session.add(evaluation)
            evaluation.title = desired["title"]
            evaluation.held_on = clean["held_on"]
            evaluation.authors = desired["authors"]
            evaluation.state = desired["state"]
            evaluation.updated_at = datetime.now(UTC)
            by_key = {a.key_slug: a for a in evaluation.answers}
            answers = []
            for slug, values in desired["answers"].items():
                answer = by_key.get(slug) or Answer(key_slug=slug)
                answer.position = keys[slug].position
                for name in ANSWER_FIELDS:
                    setattr(answer, name, values[name])
                answers.append(answer)
            evaluation.answers = answers
        db.session.flush()
        record_revision("evaluation", evaluation.id, evaluation.version,
                        action or ("create" if creating else "update"), snapshot(evaluation),
                        author, comment)
        db.session.flush()
        if not creating:
            # Pages open on the sheet see the save, merged into what they are typing.
            from .live import after_save, flat

            after_save(evaluation, flat(current), flat(snapshot(evaluation)),
                       user_id=author.user.id if author.user else None)
    if commit:
        db.session.commit()
    return WriteResult(entry, "created" if creating else "updated", evaluation)


def delete_evaluation(evaluation: Evaluation, *, expected_version: int | None, author: Author,
                      comment: str | None = None, commit: bool = True) -> Evaluation:
    """A tombstone, like entries: the sheet leaves the pages and can be restored."""
    return _set_deleted(evaluation, datetime.now(UTC), "delete", expected_version, author,
                        comment, commit)


def restore_evaluation(evaluation: Evaluation, *, expected_version: int | None,
                       author: Author, comment: str | None = None,
                       commit: bool = True) -> Evaluation:
    return _set_deleted(evaluation, None, "restore", expected_version, author, comment, commit)


def revert_evaluation(evaluation: Evaluation, to_version: int, *,
                      expected_version: int | None, author: Author,
                      comment: str | None = None, commit: bool = True) -> WriteResult:
    """Write the content of an earlier revision of a sheet as a new revision."""
    revision = revision_at("evaluation", evaluation.id, to_version)
    if revision is None:
        raise NotFoundError(f"Sheet {evaluation.id} has no version {to_version}")
    old = revision.snapshot
    known = {k.slug for k in evaluation_keys(evaluation)}
    data = {"title": old["title"], "held_on": old["held_on"], "authors": old.get("authors"),
            "state": old["state"],
            "answers": {k: v for k, v in old.get("answers", {}).items() if k in known}}
    return save_evaluation(evaluation.entry, evaluation, data, author=author,
                           expected_version=expected_version,
                           comment=comment or note("revert", version=to_version),
                           commit=commit, action="revert")


def _set_deleted(evaluation: Evaluation, when: datetime | None, action: str,
                 expected_version: int | None, author: Author, comment: str | None,
                 commit: bool) -> Evaluation:
    return set_tombstone("evaluation", evaluation, when, action,
                         expected_version=expected_version, author=author, comment=comment,
                         snapshot=snapshot, on_integrity=_refused, commit=commit)


def _refused(exc: IntegrityError) -> WriteValidationError:
    name = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
    return WriteValidationError({"evaluation": [coded(
        "database_refused", "Refused by the database ({name}).", name=name)]})
