"""The administrators' page of the registry of sources: add one, test it (a sample,
nothing written), run it through the import pipeline, pause or resume it, change its
priority. Credentials are typed in and sealed, never shown back."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from ..auth.roles import role_required
from ..extensions import db
from ..models.registered_source import SOURCE_KINDS
from ..services.runs import summary
from ..sources.credentials import describe
from ..sources.registry import SourceError, add_source, all_sources, change_source, get_source
from . import bp

FORM_FIELDS = ("name", "label", "kind", "url", "mapping", "area", "licence", "priority",
               "schedule_hours", "credential", "entry_kind")


def _source_or_404(name: str):
    from flask import abort

    source = get_source(name)
    if source is None:
        abort(404)
    return source


@bp.route("/editor/sources", methods=["GET", "POST"])
@role_required("admin")
def sources() -> str | Response | tuple[str, int]:
    values: dict[str, str] = {}
    error: SourceError | None = None
    if request.method == "POST":
        values = {k: request.form.get(k, "").strip() for k in FORM_FIELDS}
        try:
            source = add_source(values)
            db.session.commit()
        except SourceError as exc:
            db.session.rollback()
            error = exc
        else:
            flash(_("The source “%(name)s” is added.", name=source.name))
            return redirect(url_for("editor.sources"), 303)
    page = render_template("editor/sources.html", sources=all_sources(), kinds=SOURCE_KINDS,
                           values={k: v for k, v in values.items() if k != "credential"},
                           error=error, describe=describe)
    return (page, 422) if error else page


@bp.post("/editor/sources/<name>/test")
@role_required("admin")
def test_source(name: str) -> Response:
    from ..sources.run import sample_source

    report = sample_source(_source_or_404(name))
    flash(_("Test of “%(name)s”: %(report)s", name=name, report=report.message))
    return redirect(url_for("editor.sources"), 303)


@bp.post("/editor/sources/<name>/run")
@role_required("admin")
def run_source(name: str) -> Response:
    from ..sources.run import SourceRunFailed
    from ..sources.run import run_source as run

    source = _source_or_404(name)
    if source.paused:
        flash(_("“%(name)s” is paused: resume it to run it.", name=name), "error")
        return redirect(url_for("editor.sources"), 303)
    try:
        result = run(source, user=current_user._get_current_object())
    except SourceRunFailed as exc:
        flash(_("The run of “%(name)s” failed, nothing was written: %(error)s",
                name=name, error=str(exc)), "error")
        if exc.run_id:
            return redirect(url_for("web.import_run", run_id=exc.run_id), 303)
        return redirect(url_for("editor.sources"), 303)
    flash(_("“%(name)s” ran: %(counts)s", name=name, counts=summary(result.counts)))
    return redirect(url_for("web.import_run", run_id=result.run.id), 303)


@bp.post("/editor/sources/<name>/pause")
@role_required("admin")
def pause_source(name: str) -> Response:
    source = _source_or_404(name)
    source.paused = request.form.get("paused") == "1"
    db.session.commit()
    flash(_("“%(name)s” is paused.", name=name) if source.paused
          else _("“%(name)s” runs again.", name=name))
    return redirect(url_for("editor.sources"), 303)


@bp.post("/editor/sources/<name>/priority")
@role_required("admin")
def source_priority(name: str) -> Response:
    source = _source_or_404(name)
    try:
        change_source(source, {"priority": request.form.get("priority", "")})
        db.session.commit()
    except SourceError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(_("The priority of “%(name)s” is %(priority)s; its entries are settled again.",
                name=name, priority=source.priority))
    return redirect(url_for("editor.sources"), 303)
