"""The GoGoCarto elements API, served live: what a GoGoCarto instance's dynamic import
(a "source" read from a URL) and a GoGoCartoJs map read, answered from the base.

`GET /api/v1/gogocarto/elements` takes GoGoCarto's own parameters (its
APIController::getElementsAction and GoGoCartoJs's ajax module):
- `ontology`: `gogofull` (default, the element of the GoGoCarto export) or
  `gogocompact` (`[id, [name], lat, lon, [category ids]]`, with its `mapping`);
- `bounds`: boxes `minLon,minLat,maxLon,maxLat` separated by `;` (Leaflet's
  toBBoxString, as GoGoCartoJs sends them); an element in any box is sent;
- `categories` (or `categories[]`): category ids of the taxonomy (`kind:…`, `tag:…`);
  an element with any of them is sent;
- `limit`: at most that many elements;
- `id` (or `/elements/<id>`): one element;
and every filter of the query layer (kind, tag, bbox, q, status, updated_since…),
parsed by `parse_filter` as for every other output. `GET /api/v1/gogocarto/taxonomy`
lists the categories. Only published entries with a position are elements.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import orjson
from flask import Blueprint, Response, abort, request
from sqlalchemy import and_, or_, select

from ..extensions import db
from ..http.json import json_response
from ..http.problems import add_problem_handlers
from ..http.streaming import streamed_response
from ..identity import identity
from ..models import Entry, Tag
from ..query import ParameterError, parse_filter, unknown_tags
from ..query.entries import bbox_condition, conditions
from ..query.filters import PROPERTY_FILTERS, EntryFilter, parse_bbox
from .gogocarto import (
    COMPACT_MAPPING,
    compact_element,
    element,
    elements_query,
    kind_categories,
    kind_labels,
)
from .meta import export_meta
from .stream import batches, snapshot
from .writers import meta_members

bp = Blueprint("gogocarto", __name__, url_prefix="/api/v1/gogocarto")
add_problem_handlers(bp)

ONTOLOGIES = ("gogofull", "gogocompact")
MAX_BOXES = 16
MAX_LIMIT = 100_000


def _ontology() -> str:
    raw = (request.args.get("ontology") or "gogofull").strip().lower()
    if raw not in ONTOLOGIES:
        raise ParameterError("ontology", f"unknown value {raw!r}; expected one of "
                                         f"{', '.join(ONTOLOGIES)}")
    return raw


def parse_bounds(raw: str) -> list[tuple[float, float, float, float]]:
    """`bounds`: one or more `minLon,minLat,maxLon,maxLat` boxes separated by `;`."""
    boxes = [b for b in (part.strip() for part in raw.split(";")) if b]
    if not boxes:
        raise ParameterError("bounds", "expected minLon,minLat,maxLon,maxLat boxes "
                                       "separated by ;")
    if len(boxes) > MAX_BOXES:
        raise ParameterError("bounds", f"at most {MAX_BOXES} boxes")
    return [parse_bbox(box, "bounds") for box in boxes]


def _limit() -> int | None:
    raw = (request.args.get("limit") or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ParameterError("limit", f"expected a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


def _categories() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`categories` as (kinds, tag slugs); an unknown id is refused by name."""
    values: list[str] = []
    for name in ("categories", "categories[]"):
        for raw in request.args.getlist(name):
            values.extend(v.strip() for v in raw.split(",") if v.strip())
    kinds = kind_categories()
    chosen_kinds = [kinds[v] for v in values if v in kinds]
    slugs = [v.removeprefix("tag:") for v in values if v.startswith("tag:")]
    unknown = [v for v in values if v not in kinds and not v.startswith("tag:")]
    if slugs:
        missing = unknown_tags(slugs)
        unknown += [f"tag:{s}" for s in missing]
    if unknown:
        raise ParameterError("categories", f"unknown category {', '.join(map(repr, unknown))}"
                                           " (see /api/v1/gogocarto/taxonomy)")
    return tuple(dict.fromkeys(chosen_kinds)), tuple(dict.fromkeys(slugs))


def _where() -> tuple[list[Any], EntryFilter]:
    """The conditions of the request: the query layer's filter, GoGoCarto's categories
    (any of them) and bounds (any box), and only located entries."""
    entry_filter = parse_filter(request.args, tag_exists=unknown_tags,
                                property_names=PROPERTY_FILTERS)
    entry_filter = replace(entry_filter, located=True)
    where = conditions(entry_filter)
    kinds, slugs = _categories()
    any_of = [and_(*conditions(f)) for f in (
        EntryFilter(kinds=kinds, moderation=()) if kinds else None,
        EntryFilter(tags=slugs, moderation=()) if slugs else None) if f is not None]
    if any_of:
        where.append(or_(*any_of))
    bounds_raw = request.args.get("bounds", "").strip()
    if bounds_raw:
        where.append(or_(*(bbox_condition(box) for box in parse_bounds(bounds_raw))))
    return where, entry_filter


def _elements(ontology: str, where: list[Any], entry_filter: EntryFilter,
              limit: int | None, whole: bool) -> Iterator[bytes]:
    base = request.url_root.rstrip("/")
    source_key = identity().publisher
    kinds = kind_labels()
    stmt = elements_query(where)
    if limit is not None:
        stmt = stmt.limit(limit)
    with snapshot() as conn:
        meta = export_meta(conn, entry_filter, {k: request.args.getlist(k) for k in request.args})
        head: dict[str, Any] = {"licence": meta.licence_url or meta.licence,
                                "ontology": ontology}
        if ontology == "gogocompact":
            head["mapping"] = COMPACT_MAPPING
        # GoGoCartoJs stops asking once it has been sent everything.
        head["allElementsSends"] = whole
        start = orjson.dumps(head)[:-1] + b"," + meta_members(meta).encode() + b'"data":['
        separator = b""
        for rows in batches(conn, stmt):
            if ontology == "gogocompact":
                items = [orjson.dumps(compact_element(row)) for row in rows]
            else:
                items = [orjson.dumps(element(row, kinds, source_key,
                                              f"{base}/entries/{row.slug}")) for row in rows]
            yield start + separator + b",".join(items)
            start, separator = b"", b","
        yield start + b"]}"


@bp.get("/elements")
@bp.get("/elements.json")
def elements() -> Response:
    """The elements, as GoGoCarto's API answers them (`data`, `ontology`)."""
    ontology = _ontology()
    one = request.args.get("id", "").strip()
    if one:
        return element_by_id(one)
    limit = _limit()
    where, entry_filter = _where()
    whole = limit is None and not request.args.get("bounds", "").strip()
    response = streamed_response(_elements(ontology, where, entry_filter, limit, whole),
                                 content_type="application/json")
    return response


@bp.get("/elements/<element_id>")
def element_by_id(element_id: str) -> Response:
    """One element (always the full ontology), as GoGoCarto's `/api/elements/{id}`."""
    try:
        entry_id = uuid.UUID(element_id.removesuffix(".json"))
    except ValueError:
        raise ParameterError("id", f"{element_id!r} is not an element id (a UUID)") from None
    where = [*conditions(EntryFilter(located=True)), Entry.id == entry_id]
    row = db.session.execute(elements_query(where)).first()
    if row is None:
        abort(404)
    body = element(row, kind_labels(), identity().publisher,
                   f"{request.url_root.rstrip('/')}/entries/{row.slug}")
    return json_response({"data": [body], "ontology": "gogofull"})


@bp.get("/taxonomy")
@bp.get("/taxonomy.json")
def taxonomy() -> Response:
    """The categories an element may have: GoGoCartoJs's taxonomy (two groups of options,
    kinds and tags), with the ids that `categories` and the compact ontology use."""
    labels = kind_labels()
    kinds = [{"id": category, "name": labels[kind]}
             for category, kind in kind_categories().items()]
    tags = [{"id": f"tag:{slug}", "name": label} for slug, label in db.session.execute(
        select(Tag.slug, Tag.label_fr).order_by(Tag.slug))]
    return json_response([
        {"name": "Type", "id": "kind", "isMandatory": True, "options": kinds},
        {"name": "Étiquettes", "id": "tags", "isMandatory": False, "options": tags},
    ])
