"""The assembly's evaluation keys, written on pages: add, describe, reorder, retire.

Keys are vocabulary, not sheets: a key is never deleted, since past sheets answered
it. Retiring one leaves it out of new sheets (app.services.evaluations.evaluation_keys)
and keeps every answer already given. Its slug is its identity (sheets and the
/keys/<slug> page name it), so "renaming" changes its labels. Every change is a
revision (entity "evaluation_key"), shown in the key's history.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import func, select

from ..extensions import db
from ..models import EvaluationKey
from ..normalise import clean_text
from ..schemas.evaluation_key import LANGUAGES, LEVELS, EvaluationKeyInputSchema
from .entries import _flatten
from .errors import WriteValidationError, coded
from .revisions import Author, next_version, note, record_revision, vocabulary_id

KEY_FIELDS = ("label_fr", "label_en", "question_fr", "question_en", "description_fr",
              "description_en", "level_definitions")
ENTITY = "evaluation_key"
KEY_TAKEN = coded("key_taken",
                  "A key with this address exists already (retired keys included).")


def key_snapshot(key: EvaluationKey) -> dict[str, Any]:
    """The key as its revisions store it."""
    return {"slug": key.slug, "position": key.position,
            **{name: getattr(key, name) for name in KEY_FIELDS},
            "retired_at": key.retired_at.isoformat() if key.retired_at else None}


def all_keys() -> list[EvaluationKey]:
    """Keys in use first, in their order, then the retired ones."""
    return list(db.session.scalars(select(EvaluationKey).order_by(
        EvaluationKey.retired_at.is_not(None), EvaluationKey.position, EvaluationKey.slug)))


def key_revision_id(key: EvaluationKey | str) -> Any:
    return vocabulary_id(ENTITY, key if isinstance(key, str) else key.slug)


def _definitions(value: Any) -> Any:
    """Level definitions with each text stored as typed text is (app/normalise.py); all
    blank is none."""
    if not isinstance(value, Mapping):
        return value
    out = {lang: [clean_text(t) or "" if isinstance(t, str) else t for t in texts]
           if isinstance(texts, list) else texts for lang, texts in value.items()}
    if all(isinstance(t, list) and not any(t) for t in out.values()):
        return None
    for lang in LANGUAGES:  # one language given: the other is blank, not refused
        if lang not in out and any(isinstance(t, list) for t in out.values()):
            out[lang] = [""] * LEVELS
    return out


def _load(data: Mapping[str, Any]) -> dict[str, Any]:
    raw = dict(data)
    raw["level_definitions"] = _definitions(raw.get("level_definitions"))
    try:
        return EvaluationKeyInputSchema().load(raw)
    except ValidationError as exc:
        raise WriteValidationError(_flatten(exc.messages)) from None


def _record(key: EvaluationKey, action: str, author: Author, comment: str | None) -> None:
    entity_id = key_revision_id(key)
    record_revision(ENTITY, entity_id, next_version(ENTITY, entity_id), action,
                    key_snapshot(key), author, comment)


def _finish(commit: bool) -> None:
    if commit:
        db.session.commit()
    else:
        db.session.flush()


def _locked(slug: str) -> EvaluationKey | None:
    return db.session.scalar(select(EvaluationKey).where(EvaluationKey.slug == slug)
                             .with_for_update().execution_options(populate_existing=True))


def create_key(data: Mapping[str, Any], *, author: Author, comment: str | None = None,
               commit: bool = True) -> EvaluationKey:
    """A new key, last in the order; new sheets show it at once."""
    slug = data.get("slug")
    taken = isinstance(slug, str) and db.session.get(EvaluationKey, slug) is not None
    try:
        clean = _load(data)
    except WriteValidationError as exc:
        if taken:  # every problem at once
            exc.messages.setdefault("slug", []).append(KEY_TAKEN)
        raise
    if taken:
        raise WriteValidationError({"slug": [KEY_TAKEN]})
    last = db.session.scalar(select(func.max(EvaluationKey.position))) or 0
    key = EvaluationKey(slug=clean["slug"], position=last + 1,
                        **{name: clean.get(name) for name in KEY_FIELDS})
    db.session.add(key)
    db.session.flush()
    _record(key, "create", author, comment)
    _finish(commit)
    return key


def update_key(key: EvaluationKey, data: Mapping[str, Any], *, author: Author,
               comment: str | None = None, commit: bool = True) -> bool:
    """Change a key's labels, question, description or level definitions (its slug
    stays). False when nothing changed (no revision)."""
    clean = _load({**data, "slug": key.slug})
    key = _locked(key.slug) or key
    changed = [name for name in KEY_FIELDS if getattr(key, name) != clean.get(name)]
    if not changed:
        return False
    for name in changed:
        setattr(key, name, clean.get(name))
    db.session.flush()
    _record(key, "update", author, comment)
    _finish(commit)
    return True


def move_key(key: EvaluationKey, offset: int, *, author: Author,
             commit: bool = True) -> bool:
    """Move a key in use up (offset -1) or down (+1) among the keys in use; the order
    of past sheets stays as they were written. False at either end."""
    keys = [k for k in db.session.scalars(
        select(EvaluationKey).order_by(EvaluationKey.position, EvaluationKey.slug)
        .with_for_update().execution_options(populate_existing=True))
        if k.retired_at is None]
    slugs = [k.slug for k in keys]
    if key.slug not in slugs:
        return False
    at = slugs.index(key.slug)
    to = at + offset
    if not 0 <= to < len(keys):
        return False
    positions = sorted(k.position for k in keys)
    if len(set(positions)) < len(positions):  # ties (keys added in SQL): number them
        positions = list(range(positions[0], positions[0] + len(keys)))
    keys.insert(to, keys.pop(at))
    for moved, position in zip(keys, positions, strict=True):
        if moved.position != position:
            moved.position = position
            db.session.flush()
            _record(moved, "update", author, note("reordered"))
    _finish(commit)
    return True


def retire_key(key: EvaluationKey, *, author: Author, comment: str | None = None,
               commit: bool = True) -> bool:
    """Leave the key out of new sheets; its answers stay on the sheets that gave them."""
    key = _locked(key.slug) or key
    if key.retired_at is not None:
        return False
    key.retired_at = datetime.now(UTC)
    db.session.flush()
    _record(key, "retire", author, comment)
    _finish(commit)
    return True


def reinstate_key(key: EvaluationKey, *, author: Author, comment: str | None = None,
                  commit: bool = True) -> bool:
    """Bring a retired key back into new sheets, last in the order."""
    key = _locked(key.slug) or key
    if key.retired_at is None:
        return False
    key.retired_at = None
    active = db.session.scalar(select(func.max(EvaluationKey.position))
                               .where(EvaluationKey.retired_at.is_(None)))
    key.position = (active or 0) + 1
    db.session.flush()
    _record(key, "restore", author, comment)
    _finish(commit)
    return True
