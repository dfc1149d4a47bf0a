"""The map's address search: an address to a point the map centres on.

Through the same client and cache as the editors' look-ups (app/geocoding), limited
per visitor (ATLAS_ADDRESS_SEARCH_RATE_LIMIT) so that the public cannot spend the
instance's share of the national service.
"""

from __future__ import annotations

from flask import current_app, jsonify, request
from werkzeug.wrappers import Response

from ..extensions import db, limiter
from ..geocoding.cache import service
from . import bp

MAX_QUERY = 200


def search_limit() -> str:
    return current_app.config["ADDRESS_SEARCH_RATE_LIMIT"]


@bp.get("/address-search")
@limiter.limit(search_limit)
def address_search() -> tuple[Response, int]:
    """?q= → {status, lon, lat, label, score}: found, low_score, not_found, unavailable."""
    q = " ".join((request.args.get("q") or "").split())[:MAX_QUERY]
    if len(q) < 3:
        return jsonify({"error": "q: an address of at least 3 characters"}), 400
    outcome = service().search(q)
    db.session.commit()  # the cache
    answer = outcome.answer or {}
    body = {"status": outcome.status, "lon": answer.get("lon"), "lat": answer.get("lat"),
            "label": answer.get("label"), "score": answer.get("score")}
    return jsonify(body), 503 if outcome.status == "unavailable" else 200
