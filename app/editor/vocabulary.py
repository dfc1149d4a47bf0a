"""What the pages of keys and tags share: reading their forms, and their histories.

Keys and tags keep no version column: their revisions (app.services.revisions,
entities "evaluation_key" and "tag") are their history, compared field by field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, render_template, request

from ..models import Revision
from ..models.vocab import LEVEL_MAX, LEVEL_MIN
from .labels import FIELD_LABELS

LEVELS = range(LEVEL_MIN, LEVEL_MAX + 1)


def definitions_from_form(form: Any) -> dict[str, list[str]]:
    """The level definitions typed in a key's form (`level-fr-0` … `level-en-4`)."""
    return {lang: [form.get(f"level-{lang}-{level}", "") for level in LEVELS]
            for lang in ("fr", "en")}


def comment_of(form: Any) -> str | None:
    return form.get("comment", "").strip()[:500] or None


@dataclass(frozen=True)
class Change:
    key: str
    label: str
    old: str
    new: str


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, dict):
        return " · ".join(f"{lang}: " + " | ".join(f"{i}. {t}" for i, t in enumerate(texts)
                                                     if t)
                          for lang, texts in value.items() if any(texts))
    return str(value)


def changes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[Change]:
    """Each field that differs between two snapshots of a key or a tag."""
    old = old or {}
    return [Change(k, str(FIELD_LABELS.get(k, k)), _shown(old.get(k)), _shown(new.get(k)))
            for k in new if old.get(k) != new.get(k)]


def render_history(kind: str, name: str, revisions: list[Revision], back: str) -> str:
    """A key's or a tag's revisions, newest first; ?version= shows what one changed."""
    if not revisions:
        abort(404)
    raw = request.args.get("version", "")
    wanted = int(raw) if raw.isdigit() else revisions[-1].version
    shown = next((r for r in revisions if r.version == wanted), None)
    if shown is None:
        abort(404)
    before = next((r for r in revisions if r.version == shown.version - 1), None)
    return render_template("editor/vocabulary_history.html", kind=kind, name=name,
                           revisions=list(reversed(revisions)), shown=shown,
                           changes=changes(before.snapshot if before else None,
                                           shown.snapshot), back=back)
