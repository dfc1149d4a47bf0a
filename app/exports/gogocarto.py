"""GoGoCarto JSON: what a GoGoCarto or Transiscope instance imports as a source.

The envelope GoGoCarto's own API answers (`licence`, `ontology`, `data`), plus our
licence and sources; each element has GoGoCarto's documented fields: `id`,
`name`, `geo.latitude/longitude`, `address.streetAddress/postalCode/
addressLocality/addressCountry`, `categories`, `description`, `descriptionMore`,
`email`, `telephone`, `website`, `openHours` (per day, when the OSM hours are
simple enough to split by day), `openHoursString` (the hours as written) and
`sourceKey`; our identifiers of other registers (`siret`, `rna`, `wikidata`,
`osm_object`) go along as extra fields of the element. GoGoCarto places every
element on its map: an entry without a position is reported, not written.

`categories` holds the French labels (GoGoCarto's importer matches options by name
and creates the missing ones); `categoriesFull` the same categories with our ids
(`kind:<kind>`, `tag:<slug>`), which GoGoCartoJs reads first and the taxonomy of the
live endpoint (gogocarto_api.py) declares. `compact_element` is the `gogocompact`
ontology of the live endpoint. One definition of an element for the file and the
live endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from flask_babel import force_locale
from sqlalchemy import Select, Text, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by, array

from .. import hours
from ..identifiers import FIELDS as IDENTIFIERS
from ..identity import identity
from ..models import Entry, Tag, entry_tags
from ..models.vocab import ENTRY_KINDS
from ..query.entries import conditions
from .job import ExportJob, Refusal
from .meta import export_meta
from .stream import batches, snapshot
from .writers import meta_members


def open_hours(raw: str | None) -> dict[str, str] | None:
    """OSM opening_hours by day ("Mo": "09:00-12:00,14:00-18:00"), from the weekly table
    of app/hours.py (the one parsed form every format uses).

    None when the hours use more of the syntax (holidays with hours of their own,
    months, weeks…) or are not valid: GoGoCarto then shows `openHoursString` as written.
    """
    table = hours.week(hours.try_parse(raw))
    if not table:
        return None
    return {day: ",".join(f"{start}-{'23:59' if end == '24:00' else end}"
                          for start, end in spans)
            for day, spans in table.items()}


def tag_labels_expression() -> Any:
    """The entry's tags' French labels, in slug order."""
    aggregated = func.array_agg(aggregate_order_by(Tag.label_fr, Tag.slug))
    return (select(func.coalesce(aggregated, array([], type_=Text)))
            .select_from(entry_tags.join(Tag, Tag.id == entry_tags.c.tag_id))
            .where(entry_tags.c.entry_id == Entry.id).correlate(Entry).scalar_subquery())


def tag_slugs_expression() -> Any:
    """The entry's tags' slugs, in slug order (beside tag_labels_expression)."""
    aggregated = func.array_agg(aggregate_order_by(Tag.slug, Tag.slug))
    return (select(func.coalesce(aggregated, array([], type_=Text)))
            .select_from(entry_tags.join(Tag, Tag.id == entry_tags.c.tag_id))
            .where(entry_tags.c.entry_id == Entry.id).correlate(Entry).scalar_subquery())


def elements_query(where: list[Any]) -> Select:
    """The columns of an element, for the entries `where` selects, in id order."""
    return (select(
        Entry.id, Entry.slug, Entry.kind, Entry.name, func.ST_Y(Entry.geom).label("lat"),
        func.ST_X(Entry.geom).label("lon"), Entry.street, Entry.postcode, Entry.city,
        Entry.country, Entry.summary, Entry.description, Entry.email, Entry.phone,
        Entry.website, Entry.opening_hours, *(getattr(Entry, name) for name in IDENTIFIERS),
        Entry.created_at, Entry.updated_at,
        tag_labels_expression().label("tags"), tag_slugs_expression().label("tag_slugs"))
        .where(*where).order_by(Entry.id))


def query(job: ExportJob) -> Select:
    return elements_query(conditions(job.filter))


def kind_labels() -> dict[str, str]:
    from ..web.labels import KIND_LABELS

    with force_locale("fr"):
        return {kind: str(label) for kind, label in KIND_LABELS.items()}


def kind_category(kind: str) -> str:
    return f"kind:{kind}"


def kind_categories() -> dict[str, str]:
    """Each kind's category id, to the kind."""
    return {kind_category(kind): kind for kind in ENTRY_KINDS}


def tag_category(slug: str) -> str:
    return f"tag:{slug}"


def category_ids(row: Any) -> list[str]:
    """The element's category ids: its kind, then its tags."""
    return [kind_category(row.kind), *(tag_category(s) for s in row.tag_slugs)]


def element(row: Any, kinds: dict[str, str], source_key: str, url: str) -> dict[str, Any]:
    """An element of the `gogofull` ontology (GoGoCarto's documented fields)."""
    address = {"streetAddress": row.street, "postalCode": row.postcode,
               "addressLocality": row.city, "addressCountry": row.country}
    address = {k: v for k, v in address.items() if v}
    out = {
        "id": str(row.id),
        "name": row.name,
        "geo": {"latitude": row.lat, "longitude": row.lon},
        "address": address or None,
        "categories": [kinds[row.kind], *row.tags],
        "categoriesFull": [{"id": i, "name": n} for i, n in
                           zip(category_ids(row), [kinds[row.kind], *row.tags], strict=True)],
        "description": row.summary,
        "descriptionMore": row.description,
        "email": row.email,
        "telephone": row.phone,
        "website": row.website,
        "openHours": open_hours(row.opening_hours),
        "openHoursString": row.opening_hours,
        "sourceKey": source_key,
        "url": url,
        **{name: getattr(row, name) for name in IDENTIFIERS},
        "createdAt": row.created_at.date().isoformat(),
        "updatedAt": row.updated_at.date().isoformat(),
    }
    return {k: v for k, v in out.items() if v is not None}


# GoGoCartoJs reads a compact element by this mapping, given in the answer: the id, the
# listed attributes (here the name), latitude, longitude, then the category ids.
COMPACT_MAPPING = ["id", ["name"], "latitude", "longitude", "status", "moderationState"]


def compact_element(row: Any) -> list[Any]:
    """An element of the `gogocompact` ontology: [id, [name], lat, lon, [category ids]]."""
    return [str(row.id), [row.name], row.lat, row.lon, category_ids(row)]


def write_gogocarto(job: ExportJob) -> Iterator[bytes]:
    source_key = identity().publisher
    kinds = kind_labels()
    with snapshot() as conn:
        meta = export_meta(conn, job.filter, job.filters)
        head = {"licence": meta.licence_url or meta.licence, "ontology": "gogofull"}
        start = orjson.dumps(head)[:-1] + b"," + meta_members(meta).encode() + b'"data":['
        separator = b""
        for rows in batches(conn, query(job)):
            items = []
            for row in rows:
                if row.lon is None:
                    job.refuse(Refusal(str(row.id), row.slug, row.name, (
                        "no position: GoGoCarto places every element on its map",)))
                    continue
                items.append(orjson.dumps(element(row, kinds, source_key,
                                                  job.entry_url(row.slug))))
            # The head goes with the first rows read (streaming.py), even if all are refused.
            yield start + (separator + b",".join(items) if items else b"")
            start = b""
            if items:
                separator = b","
                job.written += len(items)
        yield start + b"]}"
