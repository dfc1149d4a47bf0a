"""What every citizen page shares: template helpers, filters, the language, errors.

The language (selection, cookie) and the error pages are the app's, shared with the
login and editor pages (app/http/locale.py, app/http/errors.py); this blueprint
adds them to its own requests, and its own labels and filters to every template.
"""

from __future__ import annotations

import re
from typing import Any

from flask import render_template, request
from flask_babel import format_date, format_datetime, format_decimal
from markupsafe import Markup

from ..formats.markdown import render_markdown
from ..http.errors import gone, not_found
from ..http.locale import fresh_locale, page_headers
from ..query import ParameterError
from . import bp
from .labels import (
    KIND_COLOURS,
    KIND_LABELS,
    KIND_PLURALS,
    STATUS_LABELS,
    TAG_GROUP_LABELS,
    distance_text,
)

bp.before_request(fresh_locale)
bp.after_request(page_headers)
bp.register_error_handler(404, not_found)
bp.register_error_handler(410, gone)


@bp.app_context_processor
def page_helpers() -> dict[str, Any]:
    return {
        "kind_labels": KIND_LABELS,
        "kind_plurals": KIND_PLURALS,
        "kind_colours": KIND_COLOURS,
        "status_labels": STATUS_LABELS,
        "tag_group_labels": TAG_GROUP_LABELS,
        "format_number": format_decimal,
        "distance_text": distance_text,
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


@bp.errorhandler(ParameterError)
def bad_parameter(error: ParameterError) -> tuple[str | dict[str, str], int]:
    """400 naming the parameter: an HTML page, or JSON for the map's JSON endpoint."""
    if request.path.endswith(".json"):
        return {"error": str(error), "parameter": error.parameter}, 400
    return render_template("web/error.html", status=400, parameter=error.parameter,
                           message=error.message), 400
