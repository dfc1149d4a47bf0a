"""One query layer for every reader (HTML, JSON, GeoJSON, OGC API, exports)."""

from .entries import count_entries, entry_select, search_entries, unknown_tags
from .facets import Facets, facet_counts
from .filters import EntryFilter, Near, ParameterError, parse_filter

__all__ = [
    "EntryFilter",
    "Facets",
    "Near",
    "ParameterError",
    "count_entries",
    "entry_select",
    "facet_counts",
    "parse_filter",
    "search_entries",
    "unknown_tags",
]
