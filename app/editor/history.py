"""History of an entry or a sheet (revisions, diffs, revert) and the trash (restore).

Nothing is ever removed: a revert writes the old content as a new revision, and a
deletion is a tombstone that an administrator can lift, relations and sheets intact.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..auth.roles import role_required
from ..extensions import db
from ..http.locale import locale_code
from ..models import Entry, Evaluation, Revision
from ..services.entries import restore_entry, revert_entry
from ..services.errors import ConflictError, NotFoundError, WriteValidationError
from ..services.evaluations import restore_evaluation, revert_evaluation
from ..services.policy import visible_revisions
from ..services.revisions import revisions_of
from . import bp
from .access import viewable_entry, viewable_sheet, viewer
from .diff import entry_changes, sheet_changes
from .entries import author


def _pick(revisions: list[Revision], name: str, default: int | None) -> Revision | None:
    raw = request.args.get(name, "")
    wanted = int(raw) if raw.isdigit() else default
    return next((r for r in revisions if r.version == wanted), None)


def _history(kind: str, subject: Any, revisions: list[Revision]) -> str:
    """The revisions the user may read, and the field-by-field changes between two of them
    (?from=&to=): a version hidden by the policy is neither listed nor compared."""
    revisions = visible_revisions(viewer(), revisions, subject)
    if not revisions:
        abort(404)
    latest = revisions[-1].version
    newer = _pick(revisions, "to", latest)
    older = _pick(revisions, "from", (newer.version - 1) if newer else None)
    if newer is None:
        abort(404)
    if older is not None and older.version > newer.version:
        older, newer = newer, older
    old = older.snapshot if older else None
    if kind == "entry":
        changes = entry_changes(old, newer.snapshot, locale_code(), viewer=viewer())
    else:
        changes = sheet_changes(old, newer.snapshot, locale_code())
    return render_template("editor/history.html", kind=kind, subject=subject,
                           revisions=list(reversed(revisions)), older=older, newer=newer,
                           changes=changes)


@bp.get("/editor/entries/<uuid:entry_id>/history")
@role_required("contributor")
def entry_history(entry_id: uuid.UUID) -> str:
    entry = viewable_entry(entry_id)
    return _history("entry", entry, revisions_of("entry", entry.id))


@bp.get("/editor/sheets/<uuid:sheet_id>/history")
@role_required("contributor")
def sheet_history(sheet_id: uuid.UUID) -> str:
    sheet = viewable_sheet(sheet_id)
    return _history("sheet", sheet, revisions_of("evaluation", sheet.id))


def _expected() -> int:
    raw = request.form.get("version", "")
    if not raw.isdigit():
        abort(400)
    return int(raw)


def _to_version() -> int:
    raw = request.form.get("to_version", "")
    if not raw.isdigit():
        abort(400)
    return int(raw)


@bp.post("/editor/entries/<uuid:entry_id>/revert")
@role_required("editor")
def revert_entry_view(entry_id: uuid.UUID) -> Response:
    entry = db.session.get(Entry, entry_id)
    if entry is None:
        abort(404)
    back = url_for("editor.entry_history", entry_id=entry.id)
    if entry.deleted_at is not None:
        flash(_("This entry is deleted: restore it from the trash first."), "error")
        return redirect(back, 303)
    to_version = _to_version()
    try:
        result = revert_entry(entry, to_version, expected_version=_expected(), author=author(),
                              comment=request.form.get("comment", "").strip() or None)
    except ConflictError:
        db.session.rollback()
        flash(_("The entry changed while you were reading its history: look again before "
                "reverting."), "error")
        return redirect(back, 303)
    except NotFoundError:
        abort(404)
    except WriteValidationError as exc:
        db.session.rollback()
        from .messages import field_errors

        problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in field_errors(exc.messages).items())
        flash(_("This version cannot be restored as it is: %(problems)s", problems=problems),
              "error")
        return redirect(back, 303)
    if result.action == "unchanged":
        flash(_("The entry already has the content of version %(version)s.",
                version=to_version))
    else:
        flash(_("Version %(old)s is back, as version %(new)s.", old=to_version,
                new=entry.version))
    return redirect(back, 303)


@bp.post("/editor/sheets/<uuid:sheet_id>/revert")
@role_required("editor")
def revert_sheet_view(sheet_id: uuid.UUID) -> Response:
    sheet = db.session.get(Evaluation, sheet_id)
    if sheet is None:
        abort(404)
    back = url_for("editor.sheet_history", sheet_id=sheet.id)
    to_version = _to_version()
    try:
        result = revert_evaluation(sheet, to_version, expected_version=_expected(),
                                   author=author(),
                                   comment=request.form.get("comment", "").strip() or None)
    except ConflictError:
        db.session.rollback()
        flash(_("The sheet changed while you were reading its history: look again before "
                "reverting."), "error")
        return redirect(back, 303)
    except NotFoundError:
        abort(404)
    if result.action == "unchanged":
        flash(_("The sheet already has the content of version %(version)s.",
                version=to_version))
    else:
        flash(_("Version %(old)s is back, as version %(new)s.", old=to_version,
                new=sheet.version))
    return redirect(back, 303)


# -- trash --------------------------------------------------------------------------------------

def _last_revision(kind: str, ids: list[uuid.UUID]) -> dict[uuid.UUID, Revision]:
    if not ids:
        return {}
    rows = db.session.scalars(
        select(Revision).where(Revision.entity_type == kind, Revision.entity_id.in_(ids))
        .order_by(Revision.entity_id, Revision.version))
    return {r.entity_id: r for r in rows}  # the last one of each wins


@bp.get("/editor/trash")
@role_required("admin")
def trash() -> str:
    entries = db.session.scalars(select(Entry).where(Entry.deleted_at.is_not(None))
                                 .order_by(Entry.deleted_at.desc())).all()
    sheets = db.session.scalars(select(Evaluation).where(Evaluation.deleted_at.is_not(None))
                                .order_by(Evaluation.deleted_at.desc())).all()
    return render_template(
        "editor/trash.html", entries=entries, sheets=sheets,
        entry_deletions=_last_revision("entry", [e.id for e in entries]),
        sheet_deletions=_last_revision("evaluation", [s.id for s in sheets]))


@bp.post("/editor/trash/entries/<uuid:entry_id>/restore")
@role_required("admin")
def restore_entry_view(entry_id: uuid.UUID) -> Response:
    entry = db.session.get(Entry, entry_id)
    if entry is None:
        abort(404)
    try:
        restore_entry(entry, expected_version=_expected(), author=author(),
                      comment=request.form.get("comment", "").strip() or None)
    except ConflictError:
        db.session.rollback()
        flash(_("This entry changed meanwhile: look again."), "error")
        return redirect(url_for("editor.trash"), 303)
    flash(_("“%(name)s” is restored, with its relations and sheets.", name=entry.name))
    return redirect(url_for("editor.trash"), 303)


@bp.post("/editor/trash/sheets/<uuid:sheet_id>/restore")
@role_required("admin")
def restore_sheet_view(sheet_id: uuid.UUID) -> Response:
    sheet = db.session.get(Evaluation, sheet_id)
    if sheet is None:
        abort(404)
    try:
        restore_evaluation(sheet, expected_version=_expected(), author=author())
    except ConflictError:
        db.session.rollback()
        flash(_("This sheet changed meanwhile: look again."), "error")
        return redirect(url_for("editor.trash"), 303)
    flash(_("The sheet “%(title)s” is restored.", title=sheet.title))
    return redirect(url_for("editor.trash"), 303)
