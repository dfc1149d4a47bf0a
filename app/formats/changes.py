"""A change of the feed as JSON, built in PostgreSQL: an upsert with the public record
and the entry's public links, or a deletion.

The query layer (app/query/changes.py) orders and pages the feed; this module says
what each change holds, so the feed's text is defined with the other public fields.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Text, and_, case, cast, func, literal, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from ..models import Entry, IdentityLink
from ..query.entries import conditions
from ..query.filters import EntryFilter
from .public import public_json, relations_expression


def aliases_json(entity_type: str, own_id: Any) -> ColumnElement:
    """The other ids of a row (app/models/link.py) as a JSON array of strings."""
    aggregated = func.json_agg(aggregate_order_by(cast(IdentityLink.alias_id, Text),
                                                  IdentityLink.alias_id))
    return (select(func.coalesce(aggregated, func.json_build_array()))
            .where(IdentityLink.entity_type == entity_type, IdentityLink.entity_id == own_id)
            .scalar_subquery())


def change_json() -> ColumnElement[str]:
    """A change as JSON text: {"op": "upsert", "id", "entry", "relations", "aliases"} or
    {"op": "delete", …}.

    `relations` are the entry's outgoing links to public entries, so that a mirror
    can rebuild them (they are not fields of the public record); `aliases` its other
    ids, so that a mirror holding it under one of them links instead of duplicating.
    """
    public = and_(*conditions(EntryFilter()))  # what the public sees, as everywhere
    upsert = func.json_build_object(
        literal("op"), literal("upsert"), literal("id"), cast(Entry.id, Text),
        literal("entry"), public_json(), literal("relations"), relations_expression(),
        literal("aliases"), aliases_json("entry", Entry.id))
    delete = func.json_build_object(
        literal("op"), literal("delete"), literal("id"), cast(Entry.id, Text),
        literal("deleted_at"), func.coalesce(Entry.deleted_at, Entry.updated_at))
    return cast(case((public, upsert), else_=delete), Text)
