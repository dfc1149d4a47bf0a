"""Error pages for people (404, 410) in the site's layout; problem+json under /api and /ogc.

Page blueprints (citizen pages, editor) register `not_found` and `gone` for their
own aborts; `init_error_pages(app)` answers addresses no route knows.
"""

from __future__ import annotations

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException

from .problems import http_problem, is_machine_path


def not_found(_error: Exception) -> tuple[str, int]:
    return render_template("web/error.html", status=404), 404


def gone(_error: Exception) -> tuple[str, int]:
    return render_template("web/error.html", status=410), 410


def unknown_address(error: HTTPException):
    """An address no route knows: the site's own page, or problem+json under /api and /ogc."""
    if is_machine_path(request.path):
        return http_problem(error)
    return not_found(error)


def init_error_pages(app: Flask) -> None:
    app.register_error_handler(404, unknown_address)
