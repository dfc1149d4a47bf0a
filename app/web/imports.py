"""Admin pages: past import runs, their reports, flagged twins, conflicts; merging entries."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..auth.roles import role_required
from ..extensions import db
from ..models import Entry, ImportRun
from ..services.entries import find_entry
from ..services.errors import NotFoundError, WriteValidationError
from ..services.merge import merge_entries
from ..services.revisions import Author
from . import bp

REPORT_KINDS = ("duplicate", "conflict", "rejected", "warning", "missing", "closed",
                "skipped")


def _author() -> Author:
    return Author(user=current_user._get_current_object())


@bp.get("/admin/imports")
@role_required("admin")
def import_runs():
    runs = db.session.scalars(select(ImportRun).order_by(ImportRun.id.desc()).limit(200))
    return render_template("admin/imports.html", runs=list(runs))


@bp.get("/admin/imports/<int:run_id>")
@role_required("admin")
def import_run(run_id: int):
    run = db.session.get(ImportRun, run_id) or abort(404)
    groups = {kind: [(i, item) for i, item in enumerate(run.report or [])
                     if item.get("kind") == kind] for kind in REPORT_KINDS}
    return render_template("admin/import_run.html", run=run, groups=groups)


@bp.post("/admin/imports/<int:run_id>/duplicates/<int:index>")
@role_required("admin")
def resolve_twin(run_id: int, index: int):
    from ..services.twins import resolve_duplicate

    run = db.session.get(ImportRun, run_id) or abort(404)
    decision = request.form.get("decision")
    if decision not in ("same", "create"):
        abort(400, "decision must be same or create")
    try:
        entry = resolve_duplicate(run, index, decision, author=_author())
    except NotFoundError:
        abort(404)
    except WriteValidationError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        flash(f"{entry.name}: {'source attached' if decision == 'same' else 'created'}",
              "info")
    return redirect(url_for("web.import_run", run_id=run_id))


@bp.route("/admin/merge", methods=["GET", "POST"])
@role_required("admin")
def merge():
    survivor = _entry_param("survivor")
    other = _entry_param("other")
    if request.method == "POST":
        if survivor is None or other is None:
            abort(400, "survivor and other are required")
        try:
            result = merge_entries(survivor, other, author=_author())
        except WriteValidationError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(url_for("web.merge", survivor=survivor.slug, other=other.slug))
        flash(f"{result.merged.slug} merged into {result.survivor.slug}: "
              f"{result.relations} relations, {result.sheets} sheets, "
              f"{result.sources} sources moved", "info")
        return redirect(url_for("web.merge", survivor=result.survivor.slug))
    return render_template("admin/merge.html", survivor=survivor, other=other)


def _entry_param(name: str) -> Entry | None:
    ref = request.values.get(name, "").strip()
    if not ref:
        return None
    entry = find_entry(ref)
    if entry is None or entry.deleted_at is not None:
        abort(404, f"No live entry {ref!r}")
    return entry
