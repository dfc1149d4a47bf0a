"""The public fields of an entry, defined once for every output.

Two views of one definition: `public_record()` reads an ORM Entry (pages, small
answers) and `public_columns()` gives the same fields as SQL expressions, so that
bulk outputs (GeoJSON feed, CSV, exports) can build their rows in PostgreSQL
without a Python object per entry. A test keeps the two in agreement.

Moderation state, sources' raw attributes, revisions and users never appear here.
Positions are stored rounded to 1e-7° by the write service, so lon/lat are exact.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    cast,
    func,
    inspect,
    literal,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by, array
from sqlalchemy.orm import aliased
from sqlalchemy.sql.util import ClauseAdapter

from .. import entry_fields
from ..models import Entry, Relation, Tag, entry_tags
from ..query.entries import conditions
from ..query.filters import EntryFilter

# Plain columns of the entries table, in output order: the registry's public fields.
SCALAR_FIELDS = entry_fields.public_names()
TIME_FIELDS = ("created_at", "updated_at")
# Every public field, in output order.
PUBLIC_FIELDS = ("id", *SCALAR_FIELDS, "lon", "lat", "tags", *TIME_FIELDS, "version")


def public_record(entry: Entry) -> dict[str, Any]:
    """An entry as JSON-ready values (UUID and times as strings, lon/lat or None)."""
    lonlat = entry.lonlat
    record: dict[str, Any] = {"id": str(entry.id)}
    record.update({name: getattr(entry, name) for name in SCALAR_FIELDS})
    record["lon"], record["lat"] = lonlat if lonlat else (None, None)
    record["tags"] = sorted(tag.slug for tag in entry.tags)
    for name in TIME_FIELDS:
        record[name] = _iso(getattr(entry, name))
    record["version"] = entry.version
    return record


def tags_expression() -> ColumnElement:
    """The entry's tag slugs, sorted, as a text array ('{}' when it has none)."""
    aggregated = func.array_agg(aggregate_order_by(Tag.slug, Tag.slug))
    return (select(func.coalesce(aggregated, array([], type_=Text)))
            .select_from(entry_tags.join(Tag, Tag.id == entry_tags.c.tag_id))
            .where(entry_tags.c.entry_id == Entry.id)
            .correlate(Entry)
            .scalar_subquery())


def public_entry_condition(alias: Any = None) -> ColumnElement[bool]:
    """What the public may see (the query layer's default filter), over `alias` of entries."""
    visible = and_(*conditions(EntryFilter()))
    if alias is None:
        return visible
    return ClauseAdapter(inspect(alias).selectable).traverse(visible)


def relations_expression() -> ColumnElement:
    """The entry's outgoing links to entries the public can see, as a JSON array.

    `[{"type": "uses", "target": "<uuid>"}, …]`, sorted by type then target: what a
    mirror needs to rebuild the links (the write API takes the same shape).
    """
    target = aliased(Entry, name="relation_target")
    item = func.json_build_object(literal("type"), Relation.type,
                                  literal("target"), cast(Relation.target_id, Text))
    aggregated = func.json_agg(aggregate_order_by(item, Relation.type,
                                                  cast(Relation.target_id, Text)))
    return (select(func.coalesce(aggregated, literal_column("'[]'::json")))
            .select_from(Relation)
            .join(target, target.id == Relation.target_id)
            .where(Relation.source_id == Entry.id, public_entry_condition(target))
            .correlate(Entry)
            .scalar_subquery())


def public_columns() -> list[ColumnElement]:
    """The public fields as labelled SQL expressions over `entries`, in PUBLIC_FIELDS order.

    Times stay timestamps here; a JSON builder in SQL renders them as ISO 8601.
    """
    return [
        cast(Entry.id, Text).label("id"),
        *(getattr(Entry, name).label(name) for name in SCALAR_FIELDS),
        func.ST_X(Entry.geom).label("lon"),
        func.ST_Y(Entry.geom).label("lat"),
        tags_expression().label("tags"),
        *(getattr(Entry, name).label(name) for name in TIME_FIELDS),
        Entry.version.label("version"),
    ]


def public_json(exclude: tuple[str, ...] = ()) -> ColumnElement:
    """The public fields as one JSON object built in PostgreSQL (json_build_object).

    Keys in PUBLIC_FIELDS order; times as ISO 8601. `exclude` leaves fields out
    (GeoJSON carries id and position outside its properties).
    """
    pairs: list[Any] = []
    for column in public_columns():
        if column.name not in exclude:
            pairs.extend((literal(column.name), column))
    return func.json_build_object(*pairs)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
