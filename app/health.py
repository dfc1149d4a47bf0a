"""/healthz: is the database there, with PostGIS and the latest schema?"""

from flask import Blueprint, jsonify

from .dbcheck import DatabaseProblem, is_outage, status
from .extensions import db
from .http.outage import retry_headers

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        database = status(db.engine)
    except DatabaseProblem as exc:
        # Unreachable is passing (a restart): say when to look again, as every page does.
        headers = retry_headers() if is_outage(exc.__cause__) else {}
        return jsonify(status="error", error=str(exc)), 503, headers
    if not database["migration"]["up_to_date"]:
        return jsonify(status="error", database=database,
                       error="The database schema is not up to date: run `flask db upgrade`."), 503
    return jsonify(status="ok", database=database)
