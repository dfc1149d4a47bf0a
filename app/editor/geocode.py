"""The entry form's address look-ups (static/js/editor-map.js): an address to a position,
and a position to its commune. Through the one client and its cache (app/geocoding)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from werkzeug.wrappers import Response

from ..auth.roles import role_required
from ..communes.index import commune_index
from ..extensions import db
from ..geocoding.cache import service
from ..geocoding.client import Outcome
from . import bp

MAX_TEXT = 200


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """What the form (and the map's search box) needs of an outcome."""
    answer = outcome.answer or {}
    code = answer.get("citycode")
    return {"status": outcome.status, "lon": answer.get("lon"), "lat": answer.get("lat"),
            "score": answer.get("score"), "label": answer.get("label"),
            "postcode": answer.get("postcode"), "city": answer.get("city"),
            # Only a code of the loaded list (a self-hosted service may be older).
            "insee_code": code if code in commune_index().names else None}


def _text(name: str) -> str:
    return " ".join((request.args.get(name) or "").split())[:MAX_TEXT]


@bp.get("/editor/geocode")
@role_required("contributor")
def geocode_address() -> Response | tuple[Response, int]:
    """?street=&postcode=&city= → the best position of the address, graded."""
    street, postcode, city = _text("street"), _text("postcode"), _text("city")
    q = " ".join(p for p in (street, postcode, city) if p)
    if len(q) < 3:
        return jsonify({"error": "street, postcode or city: an address is needed"}), 400
    outcome = service().search(q)
    db.session.commit()  # the cache
    return jsonify(outcome_json(outcome)), 200 if outcome.status != "unavailable" else 503


@bp.get("/editor/geocode/reverse")
@role_required("contributor")
def reverse_geocode() -> Response | tuple[Response, int]:
    """?lon=&lat= → the nearest address: its postcode, city and INSEE code."""
    try:
        lon, lat = float(request.args["lon"]), float(request.args["lat"])
    except (KeyError, ValueError):
        return jsonify({"error": "lon and lat: decimal degrees are needed"}), 400
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return jsonify({"error": "lon must be in -180…180 and lat in -90…90"}), 400
    outcome = service().reverse(lon, lat)
    db.session.commit()
    return jsonify(outcome_json(outcome)), 200 if outcome.status != "unavailable" else 503
