""""Signaler une erreur": anyone may tell the editors that an entry is wrong.

Served by the editors' blueprint for its private pages (the form carries a CSRF
token) and error handlers. The rate limit is app.services.reports' (per address and
per session, counted in the database).
"""

from __future__ import annotations

import secrets

from flask import abort, current_app, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from ..models import Entry
from ..models.report import REPORT_MESSAGE_MAX, REPORT_REASONS
from ..services.entries import find_entry
from ..services.errors import WriteValidationError
from ..services.policy import public_entry
from ..services.reports import TooManyReports, report_error, reporter_key
from . import bp
from .labels import REPORT_REASON_LABELS
from .messages import field_errors

REPORTER_KEY = "reporter"


def _entry(ref: str) -> Entry:
    entry = find_entry(ref)
    if entry is None or not public_entry(entry):
        abort(404)
    return entry


def _keys() -> tuple[str, str]:
    if REPORTER_KEY not in session:
        session[REPORTER_KEY] = secrets.token_urlsafe(16)
    secret = current_app.config["SECRET_KEY"]
    return (reporter_key(secret, request.remote_addr or "unknown"),
            reporter_key(secret, session[REPORTER_KEY]))


def _render(entry: Entry, values: dict[str, str], errors: dict[str, list[str]] | None = None,
            status: int = 200, limited: bool = False) -> tuple[str, int]:
    return render_template("editor/report_form.html", entry=entry, values=values,
                           errors=errors or {}, reasons=[(r, REPORT_REASON_LABELS[r])
                                                         for r in REPORT_REASONS],
                           message_max=REPORT_MESSAGE_MAX, limited=limited), status


@bp.route("/entries/<ref>/report", methods=["GET", "POST"])
def report_entry(ref: str) -> Response | tuple[str, int]:
    entry = _entry(ref)
    if request.method == "GET":
        _keys()
        return _render(entry, {"reason": request.args.get("reason", ""), "message": ""})
    values = {"reason": request.form.get("reason", ""),
              "message": request.form.get("message", "")}
    client_key, session_key = _keys()
    try:
        report_error(entry, values["reason"], values["message"], client_key=client_key,
                     session_key=session_key,
                     per_hour=int(current_app.config["REPORTS_PER_HOUR"]))
    except WriteValidationError as exc:
        return _render(entry, values, field_errors(exc.messages), 422)
    except TooManyReports:
        return _render(entry, values, status=429, limited=True)
    return redirect(url_for("editor.report_thanks", ref=entry.slug), 303)


@bp.get("/entries/<ref>/report/thanks")
def report_thanks(ref: str) -> str:
    return render_template("editor/report_thanks.html", entry=_entry(ref))
