"""OGC API – Features Part 1 (Core, GeoJSON, HTML, OpenAPI 3.0) under /ogc.

The protocol lives here (links, formats, parameters); the data comes from
`provider`. JSON by default, also for `Accept: */*` (OWSLib, GDAL); HTML with
`f=html` or a browser's Accept. A query parameter the API does not declare is a
400, as Part 1 requires.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from flask import Blueprint, Response, g, render_template, request, url_for

from .. import licences
from ..formats.geojson import MEDIA_TYPE as GEOJSON
from ..http.conditional import DOC_CACHE_CONTROL, conditional
from ..http.json import json_response, raw_json_response
from ..http.problems import add_problem_handlers, problem
from ..identity import identity
from ..query import ParameterError
from ..query.paging import parse_limit
from . import provider
from .item_fast import fast_item
from .openapi import OPENAPI_MEDIA_TYPE, openapi_document

bp = Blueprint("ogc", __name__, url_prefix="/ogc")
add_problem_handlers(bp)

DEFAULT_LIMIT = 10
MAX_LIMIT = 1_000
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
FORMATS = ("json", "html")
ITEM_PARAMETERS = ("f", "bbox", "limit", "datetime", "cursor")


def representation() -> str:
    """`f` when given, else Accept: HTML only when the client prefers it to JSON."""
    asked = request.args.get("f")
    if asked is not None:
        if asked not in FORMATS:
            raise ParameterError("f", f"unknown format {asked!r}; expected json or html")
        return asked
    best = request.accept_mimetypes.best_match(
        ["application/json", GEOJSON, "text/html"], default="application/json")
    return "html" if best == "text/html" else "json"


def check_parameters(allowed: tuple[str, ...]) -> None:
    for name in request.args:
        if name not in allowed:
            raise ParameterError(name, f"unknown parameter; this resource takes "
                                       f"{', '.join(allowed)}")


def link(endpoint: str, rel: str, type_: str, title: str | None = None,
         **values: Any) -> dict[str, str]:
    out = {"href": url_for(endpoint, _external=True, **values), "rel": rel, "type": type_}
    if title:
        out["title"] = title
    return out


def self_links(endpoint: str, json_type: str = "application/json",
               **values: Any) -> list[dict[str, str]]:
    fmt = representation()
    return [
        link(endpoint, "self" if fmt == "json" else "alternate", json_type, "JSON",
             f="json", **values),
        link(endpoint, "self" if fmt == "html" else "alternate", "text/html", "HTML",
             f="html", **values),
    ]


def answer(template: str, body: dict[str, Any], mimetype: str = "application/json") -> Response:
    if representation() == "html":
        return Response(render_template(template, data=body), mimetype="text/html")
    return json_response(body, mimetype=mimetype)


def collection_or_404(collection_id: str) -> provider.Collection:
    collection = provider.COLLECTIONS.get(collection_id)
    if collection is None:
        from ..services.errors import NotFoundError

        raise NotFoundError(f"No collection {collection_id!r}; see /ogc/collections.")
    return collection


# -- resources -----------------------------------------------------------------------------

@bp.get("", strict_slashes=False)
@conditional(representation)
def landing():
    check_parameters(("f",))
    site = identity()
    where = f" of {site.territory_name}" if site.territory_name else ""
    body = {
        "title": site.site_name,
        "description": f"Commons, third places and citizen initiatives{where}, as "
                       "OGC API – Features.",
        "links": [
            *self_links("ogc.landing"),
            link("ogc.api", "service-desc", OPENAPI_MEDIA_TYPE, "The API definition",
                 f="json"),
            link("ogc.api", "service-doc", "text/html", "The API documentation", f="html"),
            link("ogc.conformance", "conformance", "application/json", "Conformance"),
            link("ogc.collections", "data", "application/json", "Collections"),
        ],
    }
    return answer("ogc/landing.html", body)


@bp.get("/conformance")
@conditional(representation)
def conformance():
    check_parameters(("f",))
    return answer("ogc/conformance.html", {"conformsTo": CONFORMANCE,
                                           "links": self_links("ogc.conformance")})


@bp.get("/api")
def api():
    check_parameters(("f",))
    if representation() == "html":
        response = Response(render_template(
            "ogc/api.html", spec_url=url_for("ogc.api", f="json"),
            swagger=url_for("static", filename="vendor/swagger-ui/")), mimetype="text/html")
    else:
        response = json_response(openapi_document(), mimetype=OPENAPI_MEDIA_TYPE)
    response.headers["Cache-Control"] = DOC_CACHE_CONTROL
    response.vary.add("Accept")
    return response


def licence_links() -> list[dict[str, Any]]:
    """The instance's data licence (ATLAS_DATA_LICENCE), linked when we know its text."""
    licence = licences.describe(licences.data_licence())
    if not licence.url:
        return []
    return [{"href": licence.url, "rel": "license", "type": "text/html",
             "title": licence.title}]


def collection_body(collection: provider.Collection) -> dict[str, Any]:
    cid = collection.id
    return {
        "id": cid,
        "title": collection.title,
        "description": provider.description(collection) + " Filtered by `datetime` on the time of "
                                                "the last change (updated_at).",
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "extent": provider.extent(collection),
        "links": [
            *self_links("ogc.collection", collection_id=cid),
            link("ogc.items", "items", GEOJSON, "Items as GeoJSON", collection_id=cid,
                 f="json"),
            link("ogc.items", "items", "text/html", "Items as HTML", collection_id=cid,
                 f="html"),
            *licence_links(),
        ],
    }


@bp.get("/collections")
@conditional(representation)
def collections():
    check_parameters(("f",))
    body = {"links": self_links("ogc.collections"),
            "collections": [collection_body(c) for c in provider.COLLECTIONS.values()]}
    return answer("ogc/collections.html", body)


@bp.get("/collections/<collection_id>")
@conditional(representation)
def collection(collection_id: str):
    check_parameters(("f",))
    return answer("ogc/collection.html", collection_body(collection_or_404(collection_id)))


@bp.get("/collections/<collection_id>/items")
@conditional(representation)
def items(collection_id: str):
    """A page of features; `next`/`prev` links carry a keyset cursor (id order)."""
    coll = collection_or_404(collection_id)
    check_parameters((*ITEM_PARAMETERS, *provider.filter_names(coll)))
    f = provider.items_filter(coll, request.args)
    limit = parse_limit(request.args.get("limit"), default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
    raw_cursor = request.args.get("cursor")
    page = provider.items_page(f, limit, raw_cursor)
    fmt = representation()
    links = [
        _page_link("self" if fmt == "json" else "alternate", GEOJSON, "json", raw_cursor),
        _page_link("self" if fmt == "html" else "alternate", "text/html", "html", raw_cursor),
        link("ogc.collection", "collection", "application/json", coll.title,
             collection_id=coll.id),
    ]
    if page.next:
        links.append(_page_link("next", GEOJSON if fmt == "json" else "text/html", fmt,
                                page.next.encode()))
    if page.prev:
        links.append(_page_link("prev", GEOJSON if fmt == "json" else "text/html", fmt,
                                page.prev.encode()))
    members: dict[str, Any] = {"numberReturned": len(page.rows)}
    if raw_cursor is None:  # on the first page, when exact and cheap
        matched = provider.number_matched(f, g.data_state.token)
        if matched is not None:
            members["numberMatched"] = matched
    members["timeStamp"] = datetime.now(UTC).isoformat(timespec="seconds")
    members["links"] = links
    if fmt == "html":
        features = [orjson.loads(row[0]) for row in page.rows]
        return Response(render_template("ogc/items.html", collection=coll, features=features,
                                        members=members), mimetype="text/html")
    body = ('{"type":"FeatureCollection","features":[' + ",".join(r[0] for r in page.rows)
            + "]," + orjson.dumps(members).decode()[1:])
    return raw_json_response(body, mimetype=GEOJSON)


@bp.get("/collections/<collection_id>/items/<feature_id>")
def item(collection_id: str, feature_id: str):
    """A JSON feature straight from its stored text (app/ogc/item_fast.py); else the
    general path below (HTML, errors)."""
    coll = provider.COLLECTIONS.get(collection_id)
    if coll is not None and request.args.keys() <= {"f"} and representation() == "json":
        fast = fast_item(coll, feature_id, _item_links(coll, feature_id))
        if fast is not None:
            return fast
    return _item(collection_id, feature_id)


def _item_links(coll: provider.Collection, feature_id: str) -> list[dict[str, str]]:
    return [*self_links("ogc.item", GEOJSON, collection_id=coll.id, feature_id=feature_id),
            link("ogc.collection", "collection", "application/json", coll.title,
                 collection_id=coll.id)]


@conditional(representation)
def _item(collection_id: str, feature_id: str):
    coll = collection_or_404(collection_id)
    check_parameters(("f",))
    text = provider.feature(coll, feature_id)
    if text is None:
        return problem(404, "Not Found", f"No feature {feature_id!r} in {coll.id}.")
    links = _item_links(coll, feature_id)
    if representation() == "html":
        return Response(render_template("ogc/item.html", collection=coll,
                                        feature=orjson.loads(text), links=links),
                        mimetype="text/html")
    body = text[:-1] + ',"links":' + orjson.dumps(links).decode() + "}"
    return raw_json_response(body, mimetype=GEOJSON)


def _page_link(rel: str, type_: str, fmt: str, cursor: str | None) -> dict[str, str]:
    pairs = [(k, v) for k, v in request.args.items(multi=True) if k not in ("cursor", "f")]
    pairs.append(("f", fmt))
    if cursor:
        pairs.append(("cursor", cursor))
    return {"href": f"{request.base_url}?{urlencode(pairs)}", "rel": rel, "type": type_}
