"""What every citizen page shares: template helpers, the language cookie, errors."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import flask_babel
from flask import current_app, render_template, request
from flask_babel import format_date, format_datetime, format_decimal, get_locale
from markupsafe import Markup
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from ..api.problems import http_problem, is_machine_path
from ..formats.markdown import render_markdown
from ..query import ParameterError
from . import bp
from .labels import KIND_COLOURS, KIND_LABELS, KIND_PLURALS, STATUS_LABELS, TAG_GROUP_LABELS

LANG_COOKIE = "lang"
LANG_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}


def locale_code() -> str:
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])


def lang_url(code: str, external: bool = False) -> str:
    """The current page in language `code` (keeps its other parameters)."""
    pairs = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    pairs.append(("lang", code))
    base = request.base_url if external else request.path
    return f"{base}?{urlencode(pairs)}"


@bp.before_request
def fresh_locale() -> None:
    """Flask-Babel caches the locale on `g`, which outlives a request when the caller
    pushed the app context (tests, scripts): choose it again for every request."""
    flask_babel.refresh()


@bp.app_context_processor
def page_helpers() -> dict[str, Any]:
    return {
        "locale": locale_code,
        "lang_url": lang_url,
        "language_names": LANGUAGE_NAMES,
        "kind_labels": KIND_LABELS,
        "kind_plurals": KIND_PLURALS,
        "kind_colours": KIND_COLOURS,
        "status_labels": STATUS_LABELS,
        "tag_group_labels": TAG_GROUP_LABELS,
        "format_number": format_decimal,
        "format_date": format_date,
        "format_datetime": format_datetime,
    }


@bp.app_template_filter("markdown")
def markdown_filter(text: str | None) -> Markup:
    return render_markdown(text)


@bp.app_template_filter("web_url")
def web_url(url: str | None) -> str | None:
    """`url` if it is an http(s) URL, else None: a stored value never becomes a script link."""
    if url and re.match(r"^https?://", url, re.IGNORECASE):
        return url
    return None


@bp.after_request
def page_headers(response: Response) -> Response:
    """The language cookie of the visible switch; pages vary with it and Accept-Language.

    The security headers are the app's, on every answer (app/headers.py).
    """
    asked = request.args.get("lang")
    if asked in current_app.config["LANGUAGES"]:
        response.set_cookie(LANG_COOKIE, asked, max_age=LANG_COOKIE_AGE, samesite="Lax",
                            httponly=True, secure=request.is_secure)
    if response.mimetype == "text/html":
        response.vary.update(("Cookie", "Accept-Language"))
    return response


@bp.errorhandler(ParameterError)
def bad_parameter(error: ParameterError) -> tuple[str | dict[str, str], int]:
    """400 naming the parameter: an HTML page, or JSON for the map's JSON endpoint."""
    if request.path.endswith(".json"):
        return {"error": str(error), "parameter": error.parameter}, 400
    return render_template("web/error.html", status=400, parameter=error.parameter,
                           message=error.message), 400


@bp.errorhandler(404)
def not_found(_error: Exception) -> tuple[str, int]:
    return render_template("web/error.html", status=404), 404


@bp.app_errorhandler(404)
def unknown_address(error: HTTPException):
    """An address no route knows: the site's own page, or problem+json under /api and /ogc."""
    if is_machine_path(request.path):
        return http_problem(error)
    return not_found(error)


@bp.errorhandler(410)
def gone(_error: Exception) -> tuple[str, int]:
    return render_template("web/error.html", status=410), 410
