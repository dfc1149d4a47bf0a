"""Small answers kept per data state: the facet counts and totals the map page and the
markers file ask for on every visit (a scan of every entry each at 1M entries),
computed once per change of the data and filter, per worker."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import replace
from typing import TypeVar

from flask import current_app

from ..lru import MISSING, Lru
from ..query import EntryFilter, Facets, filter_pass, pyramid
from ..query.facets import kind_place_counts, kinds_of, tag_counts
from ..query.state import data_state

T = TypeVar("T")
KEPT = 512


def per_state(key: Hashable, build: Callable[[], T]) -> T:
    """`build()`, or what it gave for `key` under the current data state."""
    store = current_app.extensions.get("atlas_per_state")
    if store is None:
        store = current_app.extensions["atlas_per_state"] = Lru(KEPT)
    full = (data_state().token, key)
    value = store.get(full, MISSING)
    if value is MISSING:
        value = build()
        store.put(full, value)
    return value


def kind_totals(f: EntryFilter) -> dict[str, tuple[int, int]]:
    """{kind: (located, without a place)} under `f`, its kinds and place lifted: one pass
    that gives the map page's total and kind facet and its file's totals (each a scan of
    every match for a text search at 1M). For a filter the pyramid does not hold, the
    filtered map's pass (app/query/filter_pass.py), which the view's blocks read next."""
    lifted = replace(f, kinds=(), located=None)

    def count() -> dict[str, tuple[int, int]]:
        if not pyramid.serves(lifted):  # the filtered map's pass, which its blocks read
            totals = filter_pass.kind_totals(lifted)
            if totals is not None:
                return totals
        return kind_place_counts(lifted)

    return per_state(("kinds by place", lifted), count)


def map_facets(f: EntryFilter) -> Facets:
    """facet_counts(f), the kinds from kind_totals; kept per data state. The tags of a
    filter the pyramid does not hold (but by its tags, which the tag facet lifts) from
    the filter's pass, like its kinds: one scan of the matches for both, not two."""
    def tags() -> dict[str, int]:
        lifted = replace(f, tags=())
        if not pyramid.serves(lifted):
            counted = filter_pass.tag_totals(lifted)
            if counted is not None:
                return counted
        return tag_counts(f)

    return per_state(("facets", f), lambda: Facets(kinds=kinds_of(f, kind_totals(f)),
                                                   tags=tags()))


def map_count(f: EntryFilter) -> int:
    """count_entries(f) from kind_totals."""
    chosen = [n for kind, n in kind_totals(f).items() if not f.kinds or kind in f.kinds]
    if f.located is None:
        return sum(a + b for a, b in chosen)
    return sum(a if f.located else b for a, b in chosen)
