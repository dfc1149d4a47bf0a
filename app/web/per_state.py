"""Small answers kept per data state: the facet counts and totals the map page and the
markers file ask for on every visit (a scan of every entry each at 1M entries),
computed once per change of the data and filter, per worker."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import current_app

from ..lru import MISSING, Lru
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
