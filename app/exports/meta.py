"""The licence and the sources of an export, computed from the entries it holds.

Every export names both. The licence is ours (`DATA_LICENCE`, ODbL by default),
except that data derived from an ODbL source (OpenStreetMap, or any source whose
`Source.licence` says ODbL) makes the export ODbL: the ODbL is share-alike. The
sources are the origins of the exported entries, with their own licences and
counts; raw source attributes, users and revisions never appear.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, exists, func, literal, or_, select

from .. import licences, origins
from ..identity import identity
from ..licences import ODBL
from ..models import Entry, Source
from ..query.entries import conditions
from ..query.filters import EntryFilter


def odbl_source(source: Any = Source) -> ColumnElement[bool]:
    """A source whose data is under the ODbL: OpenStreetMap, or a licence that says so."""
    licence = func.lower(func.coalesce(source.licence, ""))
    return or_(source.origin == "osm", licence.contains("odbl"),
               licence.contains("open database licen"))


def data_licence_expression(base: str) -> ColumnElement[str]:
    """Per entry: ODbL when one of its sources is, else our own licence."""
    derived = exists().where(Source.entry_id == Entry.id, odbl_source())
    return case((derived, literal(ODBL)), else_=literal(base)).label("data_licence")


@dataclass(frozen=True)
class SourceSummary:
    origin: str
    licence: str | None
    entries: int

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"title": origins.credit(self.origin), "origin": self.origin,
                               "licence": self.licence, "entries": self.entries}
        if self.origin == "osm":
            out["path"] = origins.OSM_COPYRIGHT
        return out


@dataclass(frozen=True)
class ExportMeta:
    """What an export says about itself."""

    licence: str
    publisher: str
    sources: tuple[SourceSummary, ...]
    generated_at: datetime
    filters: dict[str, list[str]] = field(default_factory=dict)
    # The site the data come from (ATLAS_SITE_NAME) and the publisher's address.
    site_name: str = ""
    publisher_url: str | None = None

    @property
    def licence_title(self) -> str:
        return licences.describe(self.licence).title

    @property
    def licence_url(self) -> str | None:
        return licences.describe(self.licence).url

    @property
    def attribution(self) -> str:
        """One line naming the publisher, the licence and the sources that require credit."""
        parts = [f"{self.publisher} ({self.licence})"]
        for source in self.sources:
            if origins.is_ours(source.origin):
                continue
            credit = origins.credit(source.origin)
            if source.origin == "osm":
                credit = "© OpenStreetMap contributors"
            if source.licence and source.origin != "osm":
                credit += f" ({source.licence})"
            if credit not in parts:
                parts.append(credit)
        return "; ".join(parts)

    def licence_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.licence, "title": self.licence_title}
        if self.licence_url:
            out["path"] = self.licence_url
        return out

    def as_dict(self) -> dict[str, Any]:
        """The JSON block exports carry (GeoJSON foreign members, GoGoCarto, JSON-LD)."""
        return {
            "publisher": self.publisher,
            **({"publisher_url": self.publisher_url} if self.publisher_url else {}),
            "license": self.licence_dict(),
            "attribution": self.attribution,
            "sources": [s.as_dict() for s in self.sources],
            "generated_at": self.generated_at.isoformat(),
            **({"filters": self.filters} if self.filters else {}),
        }


def export_meta(conn: Connection, f: EntryFilter,
                filters: dict[str, list[str]] | None = None) -> ExportMeta:
    """The licence and sources of the entries `f` selects, read on `conn` (its snapshot)."""
    rows = conn.execute(
        select(Source.origin, Source.licence, func.count(Source.entry_id.distinct()),
               func.bool_or(odbl_source()))
        .join(Entry, Entry.id == Source.entry_id)
        .where(*conditions(f))
        .group_by(Source.origin, Source.licence)
        .order_by(Source.origin, Source.licence)).all()
    base = licences.data_licence()
    site = identity()
    licence = ODBL if any(row[3] for row in rows) else base
    return ExportMeta(
        licence=licence,
        publisher=site.publisher,
        sources=tuple(SourceSummary(origin, lic, n) for origin, lic, n, _ in rows),
        generated_at=datetime.now(UTC).replace(microsecond=0),
        filters={k: v for k, v in (filters or {}).items() if v},
        site_name=site.site_name,
        publisher_url=site.publisher_url,
    )
