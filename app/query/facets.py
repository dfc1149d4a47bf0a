"""Facet counts: how many entries each filter option would give.

Disjunctive facets, as shops do: the count of an option is what the current
filter would give with that one dimension set to that one option (every other
dimension kept). So "Tiers-lieu (26)" stays right while "Initiative" is ticked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import func, select

from ..extensions import db
from ..models import Entry, Tag, entry_tags
from . import pyramid
from .entries import conditions
from .filters import EntryFilter


@dataclass(frozen=True)
class Facets:
    kinds: dict[str, int]
    tags: dict[str, int]

    def as_json(self) -> dict[str, dict[str, int]]:
        return {"kind": self.kinds, "tag": self.tags}


def kind_counts(f: EntryFilter) -> dict[str, int]:
    """Entries per kind under `f` with its kind filter lifted."""
    if pyramid.serves(f):  # counted already (pyramid.source_for), whatever the size
        totals = pyramid.kind_totals(replace(f, kinds=()))
        counts = {kind: located if f.located else without if f.located is False
                  else located + without for kind, (located, without) in totals.items()}
        return {kind: n for kind, n in counts.items() if n}
    stmt = (select(Entry.kind, func.count())
            .where(*conditions(replace(f, kinds=())))
            .group_by(Entry.kind))
    return {kind: count for kind, count in db.session.execute(stmt)}


def kind_place_counts(f: EntryFilter) -> dict[str, tuple[int, int]]:
    """{kind: (located, without a place)} under `f` with its kind and place filters lifted:
    the map file's totals and kind facet in one pass (a scan at 1M for a text search)."""
    g = replace(f, kinds=(), located=None)
    if pyramid.serves(g):
        return pyramid.kind_totals(g)
    stmt = (select(Entry.kind, func.count().filter(Entry.geom.is_not(None)),
                   func.count().filter(Entry.geom.is_(None)))
            .where(*conditions(g))
            .group_by(Entry.kind))
    return {kind: (located, without) for kind, located, without in db.session.execute(stmt)}


def kinds_of(f: EntryFilter, totals: dict[str, tuple[int, int]]) -> dict[str, int]:
    """kind_counts(f) from kind_place_counts(f)."""
    counts = {kind: located if f.located else without if f.located is False
              else located + without for kind, (located, without) in totals.items()}
    return {kind: n for kind, n in counts.items() if n}


def tag_counts(f: EntryFilter) -> dict[str, int]:
    """Entries per tag slug under `f` with its tag filter lifted (tags with none are absent)."""
    if pyramid.serves(replace(f, tags=())):  # what the public sees: counted already
        return pyramid.tag_totals(replace(f, tags=()))
    stmt = (select(Tag.slug, func.count())
            .select_from(Entry)
            .join(entry_tags, entry_tags.c.entry_id == Entry.id)
            .join(Tag, Tag.id == entry_tags.c.tag_id)
            .where(*conditions(replace(f, tags=())))
            .group_by(Tag.slug))
    return {slug: count for slug, count in db.session.execute(stmt)}


def facet_counts(f: EntryFilter) -> Facets:
    return Facets(kinds=kind_counts(f), tags=tag_counts(f))
