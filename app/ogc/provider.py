"""Data access of the OGC API, kept apart from the protocol (as pygeoapi's providers are).

Collections are views of the one entries table (all entries, or one kind); filters
are `app.query`'s, fields `app.formats.public`'s, GeoJSON `app.formats.geojson`'s,
pages `app.query.paging`'s keyset pages in id order.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from werkzeug.datastructures import MultiDict

from ..extensions import db
from ..formats.geojson import feature_json
from ..identity import identity
from ..lru import MISSING, Lru
from ..models import Entry
from ..query import EntryFilter, ParameterError, parse_filter, unknown_tags
from ..query.entries import conditions
from ..query.filters import PROPERTY_FILTERS, parse_interval
from ..query.paging import Cursor, Page, fetch_page, sort_keys

SORT = "id"


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    kind: str | None = None  # None: every kind


COLLECTIONS = {c.id: c for c in (
    Collection("entries", "Communs, tiers-lieux et initiatives",
               "Every published entry of {site}."),
    Collection("commons", "Communs", "Commons, digital ones included (often without a place).",
               "commons"),
    Collection("third-places", "Tiers-lieux", "Third places: coworkings, makerspaces, "
               "repair cafés, participatory groceries…", "third_place"),
    Collection("initiatives", "Initiatives citoyennes", "Citizen initiatives.", "initiative"),
)}
# Query parameters of the items of a collection, besides the protocol's own.
FILTERS_ALL = ("kind", "status", "tag", "q", *PROPERTY_FILTERS)
FILTERS_KIND = ("status", "tag", "q", *PROPERTY_FILTERS)


def description(collection: Collection) -> str:
    """The collection's description, naming this site (ATLAS_SITE_NAME)."""
    return collection.description.replace("{site}", identity().site_name)


def filter_names(collection: Collection) -> tuple[str, ...]:
    return FILTERS_KIND if collection.kind else FILTERS_ALL


def items_filter(collection: Collection, args: MultiDict) -> EntryFilter:
    """The EntryFilter of an items request: bbox (2D or 3D), datetime on updated_at, properties."""
    args = MultiDict(args)
    bbox = args.get("bbox")
    if bbox is not None:
        parts = bbox.split(",")
        if len(parts) == 6:  # minLon,minLat,minZ,maxLon,maxLat,maxZ: heights do not apply
            args.setlist("bbox", [",".join(parts[0:2] + parts[3:5])])
    f = parse_filter(args, tag_exists=unknown_tags, property_names=PROPERTY_FILTERS)
    if collection.kind:
        f = replace(f, kinds=(collection.kind,))
    when = args.get("datetime")
    if when:
        start, end = parse_interval(when, "datetime")
        f = replace(f, updated_since=start, updated_until=end)
    return f


def items_page(f: EntryFilter, limit: int, raw_cursor: str | None) -> Page:
    """One page of features (rows: feature JSON text, then the key) in id order."""
    keys = sort_keys(f, SORT)
    cursor = Cursor.decode(raw_cursor, SORT, keys) if raw_cursor else None
    return fetch_page(select(feature_json()).where(*conditions(f)), keys, SORT, limit, cursor)


COUNT_BUDGET_MS = 25
COUNT_MAX_ESTIMATE = 20_000


# numberMatched answers of recent first pages, by data state and filter: the same
# filter on the same data has the same count, and even deciding not to count costs a plan.
_counts = Lru(256)


def number_matched(f: EntryFilter, state_token: str | None = None,
                   budget_ms: int = COUNT_BUDGET_MS) -> int | None:
    """The exact number of matching entries, or None when counting would not be cheap.

    When the planner expects many rows the count is not tried; otherwise it runs in a
    savepoint under a statement timeout: a filter that matches a large part of a large
    base answers without numberMatched rather than slowly. With the data state's
    token, the answer is remembered until the data changes.
    """
    if state_token is None:
        return _count(f, budget_ms)
    key = (state_token, f)
    value = _counts.get(key)
    if value is MISSING:
        value = _count(f, budget_ms)
        _counts.put(key, value)
    return value


def _count(f: EntryFilter, budget_ms: int) -> int | None:
    estimate = _estimated_rows(select(Entry.id).where(*conditions(f)))
    if estimate > COUNT_MAX_ESTIMATE:
        return None
    stmt = select(func.count()).select_from(Entry).where(*conditions(f))
    previous = db.session.scalar(text("SELECT current_setting('statement_timeout')"))
    try:
        with db.session.begin_nested():
            db.session.execute(text("SELECT set_config('statement_timeout', :v, true)"),
                               {"v": f"{int(budget_ms)}ms"})
            return db.session.scalar(stmt)
    except OperationalError as exc:
        if getattr(exc.orig, "pgcode", None) == "57014":  # query_canceled
            return None
        raise
    finally:
        db.session.execute(text("SELECT set_config('statement_timeout', :v, true)"),
                           {"v": previous})


def _estimated_rows(stmt) -> int:
    """The planner's row estimate for `stmt` (EXPLAIN, nothing run)."""
    compiled = stmt.compile(dialect=db.engine.dialect,
                            compile_kwargs={"render_postcompile": True})
    plan = db.session.connection().exec_driver_sql(
        "EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params).scalar()
    return int(plan[0]["Plan"]["Plan Rows"])


def feature(collection: Collection, feature_id: str) -> str | None:
    """The feature's JSON text, if it is public and in the collection."""
    try:
        entry_id = uuid.UUID(feature_id)
    except ValueError:
        return None
    f = EntryFilter(kinds=(collection.kind,) if collection.kind else ())
    return db.session.scalar(select(feature_json()).where(Entry.id == entry_id,
                                                          *conditions(f)))


def extent(collection: Collection) -> dict:
    """Spatial (CRS84 bbox of the located entries) and temporal (updated_at) extent."""
    f = EntryFilter(kinds=(collection.kind,) if collection.kind else ())
    row = db.session.execute(select(
        func.ST_XMin(func.ST_Extent(Entry.geom)), func.ST_YMin(func.ST_Extent(Entry.geom)),
        func.ST_XMax(func.ST_Extent(Entry.geom)), func.ST_YMax(func.ST_Extent(Entry.geom)),
        func.min(Entry.updated_at), func.max(Entry.updated_at)).where(*conditions(f))).one()
    # No located entry yet: the configured territory (ATLAS_TERRITORY_BBOX), where they go.
    spatial = [list(row[:4])] if row[0] is not None else [identity().bbox.as_list()]
    first, last = row[4], row[5]
    return {
        "spatial": {"bbox": spatial, "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
        "temporal": {"interval": [[_iso(first), _iso(last)]],
                     "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"},
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


__all__ = ["COLLECTIONS", "Collection", "ParameterError", "extent", "feature", "filter_names",
           "items_filter", "items_page", "number_matched"]
