"""The pages' side of filtering: request arguments in, EntryFilter and form state out.

Parsing itself is app.query.parse_filter's job, so a page, the map's markers and
the API read `?kind=…&tag=…&q=…` the same way.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from flask import request
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from ..extensions import db
from ..models import Tag
from ..models.vocab import ENTRY_KINDS, TAG_GROUPS
from ..query import EntryFilter, Facets, parse_filter, unknown_tags


def folded(text: str) -> str:
    """A sort key that puts "Échange" among the e's, as a French reader expects."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()


def request_filter(args: MultiDict | None = None, **forced: object) -> EntryFilter:
    """The filter of the request (ParameterError when a value is wrong)."""
    f = parse_filter(args if args is not None else request.args, tag_exists=unknown_tags)
    return replace(f, **forced) if forced else f


def filter_query(f: EntryFilter, **extra: str) -> str:
    """The query string that gives `f` back (for links between map, directory and embed)."""
    # The filter form's order (q, kind, tag), so that map.js asks for the same URL
    # as the page's preload.
    pairs: list[tuple[str, str]] = [("q", f.text)] if f.text else []
    pairs += [("kind", k) for k in f.kinds]
    pairs += [("tag", t) for t in f.tags]
    pairs += [(k, v) for k, v in extra.items() if v]
    return urlencode(pairs)


def near_pairs(f: EntryFilter) -> list[tuple[str, str]]:
    """`near` and `radius` as the query gives them back (the directory around a place)."""
    if f.near is None:
        return []
    return [("near", f"{f.near.lon:g},{f.near.lat:g}"), ("radius", f"{f.near.radius_m:g}")]


@dataclass(frozen=True)
class TagOption:
    slug: str
    label: str
    count: int | None  # None: not counted here (the map's script fills it in)
    selected: bool


@dataclass(frozen=True)
class FormState:
    """What the filter form shows: choices, their counts and what is selected."""

    kinds: list[tuple[str, int | None, bool]]
    tag_groups: list[tuple[str, list[TagOption]]]
    text: str
    query: str
    located: str = ""  # "true" / "false" when the list is restricted to entries with(out) a place


def form_state(f: EntryFilter, facets: Facets | None, locale: str) -> FormState:
    """The form of `f`; without `facets`, no counts (the map page's script shows them)."""
    tags = db.session.scalars(select(Tag)).all()
    groups: list[tuple[str, list[TagOption]]] = []
    order = {g: i for i, g in enumerate(TAG_GROUPS)}
    tag_counts = None if facets is None else facets.tags
    for group in sorted({t.group for t in tags}, key=lambda g: (order.get(g, 99), g)):
        options = sorted(
            (TagOption(t.slug, t.label(locale),
                       None if tag_counts is None else tag_counts.get(t.slug, 0),
                       t.slug in f.tags)
             for t in tags if t.group == group),
            key=lambda o: folded(o.label))
        groups.append((group, options))
    kinds = [(k, None if facets is None else facets.kinds.get(k, 0), k in f.kinds)
             for k in ENTRY_KINDS]
    located = "" if f.located is None else str(f.located).lower()
    return FormState(kinds=kinds, tag_groups=groups, text=f.text or "", query=filter_query(f),
                     located=located)
