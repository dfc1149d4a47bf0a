"""One query layer for every reader (HTML, JSON, GeoJSON, OGC API, exports)."""

from .entries import count_entries, entry_select, search_entries, unknown_tags
from .filters import EntryFilter, Near, ParameterError, parse_filter

__all__ = [
    "EntryFilter",
    "Near",
    "ParameterError",
    "count_entries",
    "entry_select",
    "parse_filter",
    "search_entries",
    "unknown_tags",
]
