"""The content a mirror keeps equal: an entry's public fields and its outgoing relations.

Times and versions are each database's own; the moderation state is the
receiving side's. The same dict is built from a remote change (the feed's
`entry` and `relations`) and from a local entry, so the two compare directly.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from .. import entry_fields
from ..models import Entry
from ..models.vocab import RELATION_TYPES
from ..normalise import clean_text
from ..services.entries import COORD_DIGITS, snapshot

# The plain fields a mirror keeps equal: those sync writes (app/entry_fields.py).
SCALARS = entry_fields.writable_by("sync")
# Compared one by one when merging; the position is one field (lon and lat together).
MERGE_FIELDS = (*SCALARS, "position", "tags", "relations")


def _position(lon: Any, lat: Any) -> list[float] | None:
    if lon is None or lat is None:
        return None
    return [round(float(lon), COORD_DIGITS), round(float(lat), COORD_DIGITS)]


def _relations(items: Any) -> list[dict[str, str]]:
    """Links as sorted {"type", "target"} (target a UUID); anything else is left out."""
    unique = set()
    for item in items or ():
        try:
            target = str(uuid.UUID(str(item["target"])))
        except (KeyError, TypeError, ValueError):
            continue
        if item.get("type") in RELATION_TYPES:
            unique.add((item["type"], target))
    return [{"type": t, "target": target} for t, target in sorted(unique)]


def normalised(content: Mapping[str, Any]) -> dict[str, Any]:
    """`content` with its text as an input schema would store it here (app/normalise.py):
    another instance may have stored a form's CRLF as sent, the same words as ours."""
    return {name: clean_text(value) if name in SCALARS and isinstance(value, str) else value
            for name, value in content.items()}


def from_record(record: Mapping[str, Any], relations: Any) -> dict[str, Any]:
    """Content from a public record (the feed's `entry`, an API answer) and its relations,
    its text normalised."""
    content = normalised({name: record.get(name) for name in SCALARS})
    content["position"] = _position(record.get("lon"), record.get("lat"))
    content["tags"] = sorted(record.get("tags") or [])
    content["relations"] = _relations(relations)
    return content


def from_entry(entry: Entry) -> dict[str, Any]:
    snap = snapshot(entry)
    content = {name: snap[name] for name in SCALARS}
    content["position"] = _position(snap["lon"], snap["lat"])
    content["tags"] = sorted(snap["tags"])
    content["relations"] = _relations(snap["relations"])
    return content


def to_input(content: Mapping[str, Any], fields: Any = None) -> dict[str, Any]:
    """EntryInputSchema data for `fields` of `content` (all of them by default)."""
    data: dict[str, Any] = {}
    for name in fields or MERGE_FIELDS:
        if name == "position":
            lon, lat = content["position"] or (None, None)
            data["lon"], data["lat"] = lon, lat
        elif name == "relations":
            data["relations"] = [dict(r) for r in content["relations"]]
        else:
            data[name] = content[name]
    return data


def differing(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    return [name for name in MERGE_FIELDS if a.get(name) != b.get(name)]
