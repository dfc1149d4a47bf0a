"""The duplicate warning of the suggest and entry forms: a small JSON answer as people
type, and the same check on submit (app.services.twin_rule), never a refusal."""

from __future__ import annotations

import math
from typing import Any

from flask import jsonify, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..services.twin_rule import Twin, likely_twins
from ..web.labels import distance_text
from . import bp

MAX_NAME = 200


def coordinate(raw: str | None, low: float, high: float) -> float | None:
    """A typed coordinate (decimal comma allowed), or None when empty or not one."""
    text = (raw or "").strip().replace(",", ".").replace("\u2212", "-")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and low <= value <= high else None


def twin_message(twin: Twin) -> str:
    if twin.why == "siret":
        return _("“%(name)s” is already on the map, with the same SIRET.", name=twin.name)
    if twin.why == "website" or twin.meters is None:
        return _("“%(name)s” is already on the map, with the same website.", name=twin.name)
    return _("“%(name)s” is already on the map, %(distance)s away.", name=twin.name,
             distance=distance_text(twin.meters))


def twins_of(values: Any) -> list[Twin]:
    """The twins of what a form holds (`name`, `lat`, `lon`, `website`, `siret`)."""
    return likely_twins((values.get("name") or "")[:MAX_NAME],
                        coordinate(values.get("lon"), -180, 180),
                        coordinate(values.get("lat"), -90, 90),
                        (values.get("website") or "")[:500],
                        siret=(values.get("siret") or "")[:40])


def twins_json(twins: list[Twin]) -> list[dict[str, Any]]:
    return [{"slug": t.slug, "name": t.name, "why": t.why,
             "meters": None if t.meters is None else round(t.meters),
             "url": url_for("web.entry_page", ref=t.slug),
             "message": twin_message(t)} for t in twins]


@bp.get("/suggest/twins.json")
def suggest_twins() -> Response:
    """?name=&lat=&lon=&website=&siret=: published entries this may duplicate."""
    return jsonify({"twins": twins_json(twins_of(request.args))})
