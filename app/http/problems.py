"""Errors of the machine-facing parts (/api, /ogc) as RFC 9457 problem details.

Every refusal names what was wrong: a bad query parameter is a 400 whose body says
which parameter (`invalid-params`) and why; an unknown id is a 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, request
from werkzeug.exceptions import HTTPException

from ..query import ParameterError
from ..services.errors import NotFoundError
from .json import json_response

MEDIA_TYPE = "application/problem+json"
MACHINE_PREFIXES = ("/api/", "/ogc")


def is_machine_path(path: str) -> bool:
    return path == "/api" or path.startswith(MACHINE_PREFIXES)


def problem(status: int, title: str, detail: str | None = None, *,
            parameter: str | None = None, headers: dict[str, str] | None = None,
            **members: Any):
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body["instance"] = request.path
    if parameter is not None:
        body["invalid-params"] = [{"name": parameter, "reason": detail or title}]
    body.update(members)
    response = json_response(body, status=status, mimetype=MEDIA_TYPE)
    response.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def parameter_problem(exc: ParameterError):
    return problem(400, "Bad query parameter", f"{exc.parameter}: {exc.message}",
                   parameter=exc.parameter)


def http_problem(exc: HTTPException):
    """A werkzeug/webargs HTTP error as a problem, when it happens under /api or /ogc."""
    if not is_machine_path(request.path):
        return exc
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") or data.get("errors")
    if messages:
        name, reason = _first_message(messages)
        return problem(exc.code or 400, "Bad query parameter", f"{name}: {reason}",
                       parameter=name)
    headers = dict(exc.get_headers()) if exc.code == 405 else {}
    headers.pop("Content-Type", None)
    return problem(exc.code or 500, exc.name, exc.description, headers=headers)


def unexpected_problem(exc: Exception):
    """A bug under /api or /ogc still answers in problem+json; elsewhere Flask decides."""
    if isinstance(exc, HTTPException):
        return http_problem(exc)
    if not is_machine_path(request.path) or current_app.testing:
        raise exc
    current_app.logger.error("Unexpected error on %s", request.path, exc_info=exc)
    return problem(500, "Internal Server Error", "The server failed to answer; the error "
                   "is logged.")


def _first_message(messages: Any) -> tuple[str, str]:
    """webargs's {"query": {"limit": ["Not a valid integer."]}} as ("limit", "Not a …")."""
    if isinstance(messages, dict) and len(messages) == 1:
        (location, inner), = messages.items()
        if location in ("query", "json", "view_args", "headers") and isinstance(inner, dict):
            messages = inner
    if isinstance(messages, dict) and messages:
        name, reasons = next(iter(messages.items()))
        if isinstance(reasons, dict):  # a list field: {0: ["…"]}
            reasons = next(iter(reasons.values()), reasons)
        reason = " ".join(map(str, reasons)) if isinstance(reasons, list) else str(reasons)
        return str(name), reason
    return "request", str(messages)


def not_found_problem(exc: NotFoundError):
    return problem(404, "Not Found", str(exc))


def add_problem_handlers(bp: Blueprint) -> None:
    """The query layer's and the services' errors, as problems, for one blueprint."""
    bp.register_error_handler(ParameterError, parameter_problem)
    bp.register_error_handler(NotFoundError, not_found_problem)


def register_problem_handlers(app: Flask) -> None:
    """Problems for /api and /ogc; other paths keep Flask's (or their own) error pages.

    Routing errors (404, 405) happen before any blueprint is chosen, so the HTTP
    handler is the application's, and it answers only for machine paths.
    """
    app.register_error_handler(HTTPException, http_problem)
    app.register_error_handler(Exception, unexpected_problem)
