"""What changed between two snapshots (revisions, proposals, conflicts), field by field.

Snapshots are the write services' JSON (Revision.snapshot). Values are shown as a
reader would say them (tag labels, related entries' names); long texts get an
inline word diff.
"""

from __future__ import annotations

import difflib
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import select

from .. import entry_fields
from ..extensions import db
from ..models import EvaluationKey, Tag
from ..services.entries import CONTENT_KEYS
from ..services.evaluations import ANSWER_FIELDS
from .forms import entries_named
from .labels import FIELD_LABELS, MODERATION_LABELS, RELATION_LABELS, SHEET_STATE_LABELS

# Fields whose old and new texts are worth an inline diff.
LONG_TEXT = {*(f.name for f in entry_fields.FIELDS if f.long_text),
             "strengths", "limits", "stakes"}
# Words with the spaces that follow them, so that a rewritten sentence is one change.
WORD_RE = re.compile(r"\S+\s*|\s+")
ENTRY_DIFF_KEYS = (*CONTENT_KEYS, "deleted_at")
SHEET_KEYS = ("title", "held_on", "authors", "state")


@dataclass(frozen=True)
class FieldChange:
    key: str          # "name", "lon", "answers.governance.level"
    label: str
    old: str
    new: str
    inline: Markup | None = None   # old and new merged, with <del> and <ins>


def inline_diff(old: str, new: str) -> Markup:
    """`old` → `new` word by word: removed words in <del>, added ones in <ins>."""
    a, b = WORD_RE.findall(old or ""), WORD_RE.findall(new or "")
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(str(escape("".join(a[i1:i2]))))
            continue
        if i2 > i1:
            out.append(f"<del>{escape(''.join(a[i1:i2]))}</del>")
        if j2 > j1:
            out.append(f"<ins>{escape(''.join(b[j1:j2]))}</ins>")
    return Markup("".join(out))  # noqa: S704  (every piece is escaped above)


class Describer:
    """Turns stored values into words, looking names up once for a whole diff."""

    def __init__(self, snapshots: Iterable[dict[str, Any] | None], locale: str,
                 viewer: Any = None) -> None:
        """`viewer` names only the related entries they may see (None: the public's)."""
        self.locale = locale
        tags: set[str] = set()
        targets: set[uuid.UUID] = set()
        for snap in snapshots:
            if not snap:
                continue
            tags.update(snap.get("tags") or [])
            targets.update(uuid.UUID(r["target"]) for r in snap.get("relations") or [])
        self.tags = {t.slug: t.label(locale) for t in db.session.scalars(
            select(Tag).where(Tag.slug.in_(tags)))} if tags else {}
        self.entries = entries_named(sorted(targets), viewer)

    def value(self, key: str, value: Any) -> str:
        if value is None or value == "" or value == []:
            return "—"
        if key == "tags":
            return ", ".join(self.tags.get(slug, slug) for slug in value)
        if key == "relations":
            return "; ".join(self.relation(r) for r in value)
        if key == "moderation":
            return str(MODERATION_LABELS.get(value, value))
        if key == "state":
            return str(SHEET_STATE_LABELS.get(value, value))
        if key == "kind":
            from ..web.labels import KIND_LABELS

            return str(KIND_LABELS.get(value, value))
        if key == "status":
            from ..web.labels import STATUS_LABELS

            return str(STATUS_LABELS.get(value, value))
        return str(value)

    def relation(self, relation: dict[str, str]) -> str:
        target = self.entries.get(uuid.UUID(relation["target"]))
        name = target.name if target else relation["target"]
        return f"{RELATION_LABELS.get(relation['type'], relation['type'])} {name}"


def _change(describer: Describer, key: str, label: str, old: Any, new: Any,
            value_key: str | None = None) -> FieldChange:
    value_key = value_key or key
    old_text, new_text = describer.value(value_key, old), describer.value(value_key, new)
    inline = None
    if value_key in LONG_TEXT and old and new:
        inline = inline_diff(str(old), str(new))
    return FieldChange(key, label, old_text, new_text, inline)


def entry_changes(old: dict[str, Any] | None, new: dict[str, Any], locale: str,
                  keys: Sequence[str] = ENTRY_DIFF_KEYS, *, viewer: Any = None
                  ) -> list[FieldChange]:
    """The fields of an entry that differ from `old` to `new` (None: everything is new)."""
    describer = Describer([old, new], locale, viewer)
    changes = []
    for key in keys:
        before = old.get(key) if old else None
        after = new.get(key)
        if before != after and not (old is None and after in (None, "", [])):
            changes.append(_change(describer, key, str(FIELD_LABELS.get(key, key)), before,
                                   after))
    return changes


def sheet_changes(old: dict[str, Any] | None, new: dict[str, Any],
                  locale: str) -> list[FieldChange]:
    """The fields of a sheet that differ, answers key by key and part by part."""
    describer = Describer([], locale)
    keys = {k.slug: k for k in db.session.scalars(select(EvaluationKey))}
    changes = []
    for key in SHEET_KEYS:
        before, after = (old or {}).get(key), new.get(key)
        if before != after and not (old is None and after in (None, "")):
            changes.append(_change(describer, key, str(FIELD_LABELS[key]), before, after))
    old_answers = (old or {}).get("answers") or {}
    new_answers = new.get("answers") or {}
    order = sorted(set(old_answers) | set(new_answers),
                   key=lambda s: (keys[s].position if s in keys else 99, s))
    for slug in order:
        key_label = keys[slug].label(locale) if slug in keys else slug
        for part in ANSWER_FIELDS:
            before = (old_answers.get(slug) or {}).get(part)
            after = (new_answers.get(slug) or {}).get(part)
            if before != after:
                label = f"{key_label} · {FIELD_LABELS[part]}"
                changes.append(_change(describer, f"answers.{slug}.{part}", label, before,
                                       after, value_key=part))
    return changes
