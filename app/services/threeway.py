"""The three-way rule of a source that writes again (a re-import, a sync pull, the demo
load): a field follows the source only while nobody here changed it since the source
last wrote it. An editor's value is never overwritten; where both changed, the
editor's value stays and the difference is reported as a conflict.

Values are compared in the form of `app.services.entries.snapshot` (what revisions
store): `current` is the entry now, `last` what the source wrote last time, `incoming`
what it says now. Lists that are sets (tags, relations) merge by what the source added
and removed, so a tag an editor added survives a re-import that adds another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

POSITION = ("lon", "lat")
SET_FIELDS = ("tags", "relations")


@dataclass
class Merge:
    changes: dict[str, Any] = field(default_factory=dict)
    # (field, the value here, the source's new value): kept here, to be reported.
    conflicts: list[tuple[str, Any, Any]] = field(default_factory=list)


def _as_set(values: Iterable[Any] | None) -> set[Any]:
    return {tuple(sorted(v.items())) if isinstance(v, Mapping) else v for v in values or ()}


def _as_list(values: set[Any]) -> list[Any]:
    items = [dict(v) if isinstance(v, tuple) else v for v in values]
    return sorted(items, key=lambda v: tuple(sorted(v.items())) if isinstance(v, dict) else v)


def merge(current: Mapping[str, Any], last: Mapping[str, Any], incoming: Mapping[str, Any],
          *, ignore: Iterable[str] = ()) -> Merge:
    """What to write so that `current` follows the source where nobody else changed it."""
    out = Merge()
    skip = {*ignore, *POSITION, *SET_FIELDS}
    for name in sorted((set(incoming) | set(last)) - skip):
        new, before = incoming.get(name), last.get(name)
        if new == before or name not in current:
            continue
        if current[name] == before:
            out.changes[name] = new
        elif current[name] != new:
            out.conflicts.append((name, current[name], new))
    if any(k in incoming or k in last for k in POSITION):
        new_position = tuple(incoming.get(k) for k in POSITION)
        last_position = tuple(last.get(k) for k in POSITION)
        if new_position != last_position:
            here = tuple(current.get(k) for k in POSITION)
            if here == last_position:
                out.changes.update(zip(POSITION, new_position, strict=True))
            elif here != new_position:
                out.conflicts.append(("position", here, new_position))
    for name in SET_FIELDS:
        if name in ignore or (name not in incoming and name not in last):
            continue
        new_set, last_set = _as_set(incoming[name]), _as_set(last.get(name))
        added, removed = new_set - last_set, last_set - new_set
        here = _as_set(current.get(name))
        merged = (here | added) - removed
        if merged != here:
            out.changes[name] = _as_list(merged)
    return out
