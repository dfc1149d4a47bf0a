"""Writing evaluation sheets: create (blank or from the entry's last sheet), edit, delete.

A save from a form opened at an older version is merged field by field with what was
saved since (app/services/textmerge.merge3_strict): edits to different fields, or to
different places of one text, go through; where both changed the same words, the
conflict screen shows both texts side by side. The text typed in a sheet is also kept in
the browser until it is saved (static/js/sheet-draft.js), and shared live with the other
editors on the sheet (static/js/sheet-live.js, app/editor/live.py).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from ..auth.roles import role_required
from ..extensions import db
from ..http.locale import locale_code
from ..models import Entry, Evaluation
from ..models.vocab import EVALUATION_STATES, LEVEL_MAX, LEVEL_MIN
from ..query.sheets import sheets_of
from ..services import live
from ..services.errors import ConflictError, WriteValidationError
from ..services.evaluations import (
    delete_evaluation,
    evaluation_keys,
    save_evaluation,
    snapshot,
)
from ..services.revisions import revision_at, revisions_of
from ..services.textmerge import merge3_strict
from . import bp
from .diff import sheet_changes
from .entries import author
from .forms import SheetForm, read_sheet_form, sheet_form_from_sheet
from .messages import field_errors


def _render(entry: Entry, sheet: Evaluation | None, form: SheetForm, *, status: int = 200,
            conflict: dict[str, Any] | None = None, posted: bool = False) -> tuple[str, int]:
    draft_key = f"sheet:{sheet.id}" if sheet is not None else f"sheet-new:{entry.id}"
    return render_template(
        "editor/sheet_form.html", entry=entry, sheet=sheet, form=form, keys=evaluation_keys(sheet),
        levels=range(LEVEL_MIN, LEVEL_MAX + 1), states=EVALUATION_STATES, conflict=conflict,
        draft_key=draft_key, posted=posted,
        clear_draft=f"sheet-new:{entry.id}" if request.args.get("created") else "",
        live_url=url_for("editor.sheet_live", sheet_id=sheet.id)
        if sheet is not None and not posted else ""), status


def _entry(entry_id: uuid.UUID) -> Entry:
    entry = db.session.get(Entry, entry_id)
    if entry is None or entry.deleted_at is not None:
        abort(404)
    return entry


def _sheet(sheet_id: uuid.UUID) -> Evaluation:
    sheet = db.session.get(Evaluation, sheet_id)
    if sheet is None:
        abort(404)
    return sheet


@bp.route("/editor/entries/<uuid:entry_id>/sheets/new", methods=["GET", "POST"])
@role_required("editor")
def new_sheet(entry_id: uuid.UUID) -> Response | tuple[str, int]:
    entry = _entry(entry_id)
    if request.method == "GET":
        last = db.session.scalars(sheets_of(entry.id, drafts=True).limit(1)).first() \
            if request.args.get("from") == "last" else None
        form = sheet_form_from_sheet(last) if last is not None else SheetForm()
        form.values.update({"title": "", "held_on": date.today().isoformat(), "state": "draft"})
        form.values.setdefault("authors", "")
        form.version = None
        return _render(entry, None, form)
    data, form = read_sheet_form(request.form, evaluation_keys())
    try:
        result = save_evaluation(entry, None, data, author=author(), expected_version=None,
                                 comment=form.comment.strip() or None)
    except WriteValidationError as exc:
        db.session.rollback()
        form.errors = field_errors(exc.messages)
        return _render(entry, None, form, status=422, posted=True)
    flash(_("The sheet “%(title)s” is saved.", title=result.evaluation.title))
    return redirect(url_for("editor.edit_sheet", sheet_id=result.evaluation.id, created=1), 303)


@bp.route("/editor/sheets/<uuid:sheet_id>/edit", methods=["GET", "POST"])
@role_required("editor")
def edit_sheet(sheet_id: uuid.UUID) -> Response | tuple[str, int]:
    sheet = _sheet(sheet_id)
    entry = sheet.entry
    if sheet.deleted_at is not None or entry.deleted_at is not None:
        abort(410)
    if request.method == "GET":
        return _render(entry, sheet, sheet_form_from_sheet(sheet))
    data, form = read_sheet_form(request.form, evaluation_keys(sheet))
    if form.version is None:
        abort(400)
    saved = live.flat(snapshot(sheet))
    if form.version != sheet.version:
        merged = _merged(sheet, form.version, saved, request.form)
        if merged is None:
            return _conflict(entry, sheet, form)
        data = read_sheet_form(merged, evaluation_keys())[0]
    try:
        result = save_evaluation(entry, sheet, data, author=author(),
                                 expected_version=sheet.version,
                                 comment=form.comment.strip() or None)
    except ConflictError:
        db.session.rollback()
        return _conflict(entry, sheet, form)
    except WriteValidationError as exc:
        db.session.rollback()
        form.errors = field_errors(exc.messages)
        return _render(entry, sheet, form, status=422, posted=True)
    if result.action == "unchanged":
        flash(_("Nothing changed: there was nothing to save."))
    else:
        flash(_("Saved (version %(version)s).", version=sheet.version))
    return redirect(url_for("editor.edit_sheet", sheet_id=sheet.id), 303)


def _merged(sheet: Evaluation, opened_at: int, current: dict[str, str],
            posted: MultiDict) -> MultiDict | None:
    """The posted form merged with what was saved since version `opened_at`, field by
    field; None when both sides changed the same words of a field (or the same choice)."""
    base_revision = revision_at("evaluation", sheet.id, opened_at)
    if base_revision is None:
        return None
    base = live.flat(base_revision.snapshot)
    out = MultiDict(posted)
    for name in live.field_names():
        if name not in posted:
            continue
        mine, theirs, old = live.normalise(posted[name]), current.get(name, ""), \
            base.get(name, "")
        if live.is_text(name):
            merged = merge3_strict(old, theirs, mine)
        else:
            merged = theirs if mine == old else mine if theirs in (old, mine) else None
        if merged is None:
            return None
        out[name] = merged
    return out


def _conflict(entry: Entry, sheet: Evaluation, form: SheetForm) -> tuple[str, int]:
    """Another editor saved this sheet since the form was opened: both, side by side."""
    current = snapshot(sheet)
    opened_at = form.version
    base_revision = revision_at("evaluation", sheet.id, opened_at)
    base = base_revision.snapshot if base_revision is not None else None
    rows = []
    for change in sheet_changes(base, current, locale_code()):
        if change.key.startswith("answers."):
            _, slug, part = change.key.split(".")
            yours = form.answers.get(slug, {}).get(part, "")
            raw = ((current.get("answers") or {}).get(slug) or {}).get(part)
            field = f"{slug}-{part}"
        else:
            yours, raw, field = form.values.get(change.key, ""), current.get(change.key), \
                change.key
        theirs = "" if raw is None else str(raw)
        if theirs.strip() == yours.strip():
            continue
        rows.append({"label": change.label, "theirs": change.new, "yours": yours or "—",
                     "raw_theirs": theirs, "field": field})
    since = [r for r in revisions_of("evaluation", sheet.id) if r.version > (opened_at or 0)]
    form.version = sheet.version
    conflict = {"rows": rows, "revisions": since, "opened_at": opened_at}
    return _render(entry, sheet, form, status=409, conflict=conflict, posted=True)


@bp.post("/editor/sheets/<uuid:sheet_id>/delete")
@role_required("editor")
def delete_sheet(sheet_id: uuid.UUID) -> Response:
    sheet = _sheet(sheet_id)
    raw = request.form.get("version", "")
    if not raw.isdigit():
        abort(400)
    try:
        delete_evaluation(sheet, expected_version=int(raw), author=author(),
                          comment=request.form.get("comment", "").strip() or None)
    except ConflictError:
        db.session.rollback()
        flash(_("This sheet changed since you opened it: look at the new version before "
                "deleting it."), "error")
        return redirect(url_for("editor.edit_sheet", sheet_id=sheet.id), 303)
    flash(_("The sheet “%(title)s” is deleted. An administrator can restore it from the "
            "trash.", title=sheet.title))
    return redirect(url_for("editor.edit_entry", entry_id=sheet.entry_id), 303)
