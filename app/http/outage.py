"""While the database is out of reach: 503 Service Unavailable with Retry-After, not a 500.

A restart of PostgreSQL, or a server still starting, is a passing state, and the
answer says so: the site's own page for people (through the base layout, in their
language), application/problem+json under /api and /ogc (and for the map's JSON).
The connection pool checks each connection before use (`pool_pre_ping`), so the
first request after the server is back gets a fresh one: no restart of the app.
"""

from __future__ import annotations

import psycopg2
from flask import Flask, current_app, g, render_template, request
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import DBAPIError
from werkzeug.wrappers import Response

from ..dbcheck import is_outage
from ..extensions import db, login_manager
from .problems import is_machine_path, problem, unexpected_problem

RETRY_AFTER_SECONDS = 30
OUTAGE_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError,
                 psycopg2.OperationalError, psycopg2.InterfaceError)


def retry_headers() -> dict[str, str]:
    return {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}


def unavailable(exc: Exception) -> Response:
    """The error handler: a 503 for an outage; any other database error is a bug as before."""
    if not is_outage(exc):
        return unexpected_problem(exc)
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    current_app.logger.warning("Database unavailable (%s %s): %s", request.method,
                               request.path, detail[0] if detail else type(exc).__name__)
    if is_machine_path(request.path) or request.path.endswith(".json"):
        return problem(503, "Service Unavailable", "The database cannot be reached at the "
                       "moment; try again shortly.", headers=retry_headers())
    # Knowing who is logged in needs the database (Flask-Login loads the user for every
    # template): the page is an anonymous one, without the account corner.
    if "_login_user" not in g:
        g._login_user = login_manager.anonymous_user()
    html = render_template("web/error.html", status=503)
    return Response(html, status=503, mimetype="text/html", headers=retry_headers())


def end_session(_exc: BaseException | None) -> None:
    """End the request's session, forgiving a server that went away after the last query.

    Its rollback then fails on a dead connection, after the answer was made: Flask
    would turn that into a 500 (teardown errors reach no error handler). The server
    has ended the transaction itself; the session is dropped all the same.
    """
    try:
        db.session.remove()
    except DBAPIError as exc:
        if not is_outage(exc):
            raise
        db.session.registry.clear()


def init_outage(app: Flask) -> None:
    """After db.init_app: teardowns run last registered first, so this one ends the session
    before Flask-SQLAlchemy's own, which then has nothing left to do."""
    for error in OUTAGE_ERRORS:
        app.register_error_handler(error, unavailable)
    app.teardown_appcontext(end_session)
