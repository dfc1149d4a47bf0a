"""The editors' queue of citizens' error reports: read, fix the entry, mark handled."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..auth.roles import role_required
from ..services import reports as service
from ..services.errors import NotFoundError, WriteValidationError
from . import bp
from .entries import me
from .labels import REPORT_REASON_LABELS
from .messages import field_errors


@bp.get("/editor/reports")
@role_required("editor")
def reports() -> str:
    return render_template("editor/reports.html", open_reports=service.open_reports(),
                           handled=service.handled_reports(),
                           reason_labels=REPORT_REASON_LABELS)


@bp.post("/editor/reports/<int:report_id>/handle")
@role_required("editor")
def handle_report(report_id: int) -> Response:
    try:
        service.handle_report(report_id, me(), request.form.get("note"))
    except NotFoundError:
        abort(404)
    except WriteValidationError as exc:
        for messages in field_errors(exc.messages).values():
            flash(" ".join(messages), "error")
        return redirect(url_for("editor.reports"), 303)
    flash(_("The report is marked as handled."), "success")
    return redirect(url_for("editor.reports"), 303)
