"""HTML forms of entries and sheets: what they post becomes the write services' input.

Validation is the services' (one schema for forms, API and imports); these
functions only turn posted strings into that input, and an entry or a sheet
back into the strings a form shows, so a refused form comes back as typed.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from .. import entry_fields
from ..extensions import db
from ..models import Entry, Evaluation, EvaluationKey
from ..query.entries import unaccent_lower
from ..services.evaluations import ANSWER_FIELDS
from ..services.policy import EDITOR_FIELDS as EDITOR_ONLY_FIELDS
from ..services.policy import visible_entries_clause

# The registry's fields that the form shows (app/entry_fields.py): every one editors write.
ENTRY_TEXT_FIELDS = tuple(f.name for f in entry_fields.FIELDS if f.form is not None)
RELATION_ROW = re.compile(r"^relations-(\d+)-target$")
BLANK_RELATION_ROWS = 2
SHEET_FIELDS = ("title", "held_on", "authors", "state")


@dataclass(frozen=True)
class FormRow:
    """Fields side by side (`grouped`: in a `field-row`), or one field on its own."""

    grouped: bool
    fields: tuple[entry_fields.EntryField, ...]


def entry_form_layout(editor: bool) -> dict[str, list[FormRow]]:
    """The registry's fields of the entry form, by fieldset, in rows: what the template
    loops over. Contributors do not see the fields only editors write."""
    shown = sorted((f for f in entry_fields.FIELDS
                    if f.form is not None and (editor or f.name not in EDITOR_ONLY_FIELDS)),
                   key=lambda f: f.form.order)  # type: ignore[union-attr]
    slots: dict[str, dict[str, list[entry_fields.EntryField]]] = {
        name: {} for name in entry_fields.FORM_SECTIONS}
    for f in shown:
        spec = f.form
        assert spec is not None
        slots[spec.section].setdefault(spec.row or f"field:{f.name}", []).append(f)
    return {section: [FormRow(not key.startswith("field:"), tuple(fields))
                      for key, fields in rows.items()]
            for section, rows in slots.items()}


@dataclass
class EntryForm:
    """What the entry form shows: values as strings, relation rows, errors per field."""

    values: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    relations: list[dict[str, str]] = field(default_factory=list)  # type, target (slug), label
    errors: dict[str, list[str]] = field(default_factory=dict)
    version: int | None = None
    comment: str = ""

    def error(self, name: str) -> list[str]:
        return self.errors.get(name, [])

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Relation rows with their errors, plus blank rows to add new ones."""
        rows = [dict(r, index=i, errors=self.errors.get(f"relations.{r.get('posted', i)}.target",
                                                          []) +
                     self.errors.get(f"relations.{r.get('posted', i)}.type", []))
                for i, r in enumerate(self.relations)]
        start = len(rows)
        rows += [{"index": start + i, "type": "uses", "target": "", "label": "", "errors": []}
                 for i in range(BLANK_RELATION_ROWS)]
        return rows


def _number(raw: str | None) -> str | None:
    """A coordinate as typed: French decimal commas become dots."""
    if raw is None:
        return None
    raw = raw.strip().replace(",", ".").replace("\u2212", "-")
    return raw or None


def entry_form_from_entry(entry: Entry, snapshot: dict[str, Any], viewer: Any) -> EntryForm:
    """The form of a stored entry (or of a proposal's content, as a snapshot), as `viewer`
    may see it."""
    values = {name: "" if snapshot.get(name) is None else str(snapshot[name])
              for name in ENTRY_TEXT_FIELDS}
    for name in ("lon", "lat"):
        values[name] = "" if snapshot.get(name) is None else repr(float(snapshot[name]))
    return EntryForm(values=values, tags=list(snapshot.get("tags", [])),
                     relations=relation_rows(snapshot.get("relations", []), viewer),
                     version=entry.version if entry is not None else None)


def relation_rows(relations: list[dict[str, str]], viewer: Any) -> list[dict[str, str]]:
    """Stored relations (target UUIDs) as form rows (target slugs and names); a target
    `viewer` may not see stays a bare UUID (saving the form keeps it)."""
    found = entries_named([uuid.UUID(r["target"]) for r in relations], viewer)
    rows = []
    for relation in relations:
        target = found.get(uuid.UUID(relation["target"]))
        rows.append({"type": relation["type"],
                     "target": target.slug if target else relation["target"],
                     "label": target.name if target else "",
                     "deleted": bool(target is not None and target.deleted_at is not None)})
    return rows


def read_entry_form(form: MultiDict, *, editor: bool) -> tuple[dict[str, Any], EntryForm]:
    """(input for save_entry, the form to show again if it is refused)."""
    values = {name: form.get(name, "") for name in ENTRY_TEXT_FIELDS}
    values["lon"], values["lat"] = form.get("lon", ""), form.get("lat", "")
    data: dict[str, Any] = {name: values[name] for name in ENTRY_TEXT_FIELDS
                            if editor or name not in EDITOR_ONLY_FIELDS}
    if not editor:
        values.pop("moderation")
    data["lon"], data["lat"] = _number(values["lon"]), _number(values["lat"])
    tags = [t for t in form.getlist("tags") if t]
    data["tags"] = tags
    rows, relations = [], []
    indices = sorted(int(m[1]) for key in form if (m := RELATION_ROW.match(key)))
    for index in indices:
        target = form.get(f"relations-{index}-target", "").strip()
        type_ = form.get(f"relations-{index}-type", "").strip()
        if not target:
            continue
        rows.append({"type": type_, "target": target, "label": "", "posted": len(relations)})
        relations.append({"type": type_, "target": _resolve_target(target)})
    data["relations"] = relations
    state = EntryForm(values=values, tags=tags, relations=rows,
                      version=_int(form.get("version")), comment=form.get("comment", ""))
    return data, state


def _resolve_target(text: str) -> str:
    """A slug or UUID as given; else the one entry with exactly this name (no-script forms)."""
    try:
        uuid.UUID(text)
        return text
    except ValueError:
        pass
    if db.session.scalar(select(Entry.id).where(Entry.slug == text)) is not None:
        return text
    matches = db.session.scalars(select(Entry.slug).where(
        unaccent_lower(Entry.name) == unaccent_lower(text), Entry.deleted_at.is_(None))
        .limit(2)).all()
    return matches[0] if len(matches) == 1 else text


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw not in (None, "") else None
    except ValueError:
        return None


# -- evaluation sheets ----------------------------------------------------------------------

@dataclass
class SheetForm:
    values: dict[str, str] = field(default_factory=dict)
    answers: dict[str, dict[str, str]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    version: int | None = None
    comment: str = ""

    def error(self, name: str) -> list[str]:
        return self.errors.get(name, [])


def sheet_form_from_snapshot(snapshot: dict[str, Any], version: int | None) -> SheetForm:
    values = {name: "" if snapshot.get(name) is None else str(snapshot[name])
              for name in SHEET_FIELDS}
    answers = {slug: {name: "" if answer.get(name) is None else str(answer[name])
                      for name in ANSWER_FIELDS}
               for slug, answer in snapshot.get("answers", {}).items()}
    return SheetForm(values=values, answers=answers, version=version)


def sheet_form_from_sheet(sheet: Evaluation) -> SheetForm:
    from ..services.evaluations import snapshot

    return sheet_form_from_snapshot(snapshot(sheet), sheet.version)


def read_sheet_form(form: MultiDict, keys: list[EvaluationKey]) -> tuple[dict[str, Any],
                                                                            SheetForm]:
    values = {name: form.get(name, "") for name in SHEET_FIELDS}
    answers: dict[str, dict[str, str]] = {}
    data_answers: dict[str, dict[str, Any]] = {}
    for key in keys:
        posted = {name: form.get(f"{key.slug}-{name}", "") for name in ANSWER_FIELDS}
        answers[key.slug] = posted
        if any(v.strip() for v in posted.values()):
            data_answers[key.slug] = {name: (posted[name].strip() or None)
                                      for name in ANSWER_FIELDS}
    data = {**values, "answers": data_answers}
    return data, SheetForm(values=values, answers=answers, version=_int(form.get("version")),
                           comment=form.get("comment", ""))


def entries_named(ids: list[uuid.UUID], viewer: Any) -> dict[uuid.UUID, Entry]:
    """The entries of `ids` that `viewer` may see (app.services.policy), by id."""
    if not ids:
        return {}
    return {e.id: e for e in db.session.scalars(
        select(Entry).where(Entry.id.in_(ids), visible_entries_clause(viewer)))}
