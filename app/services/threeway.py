"""The three-way rule of a source that writes again (a re-import, a sync pull, the demo
load): a field follows the source only while nobody here changed it since the source
last wrote it. An editor's value is never overwritten; where both changed, the
editor's value stays and the difference is reported as a conflict.

Values are compared in the form of `app.services.entries.snapshot` (what revisions
store): `current` is the entry now, `last` what the source said last time, `incoming`
what it says now, and `applied` what its last write became here when that differs from
what it said (a sync pull: a slug taken here, a link still waiting for its target; by
default `last`). A field was changed here when `current` differs from `applied`; by the
source, when `incoming` differs from `last`. Lists that are sets (tags, relations) merge
by what was added and removed here, so a tag an editor added survives a re-import or a
pull that adds another, and neither is a conflict.
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
          *, ignore: Iterable[str] = (), applied: Mapping[str, Any] | None = None) -> Merge:
    """What to write so that `current` follows the source where nobody else changed it."""
    out = Merge()
    base = last if applied is None else applied
    skip = {*ignore, *POSITION, *SET_FIELDS}
    for name in sorted((set(incoming) | set(last)) - skip):
        new = incoming.get(name)
        if name not in current or current[name] == new:
            continue
        if current[name] == base.get(name):
            out.changes[name] = new
        elif new != last.get(name):
            out.conflicts.append((name, current[name], new))
    if any(k in incoming or k in last for k in POSITION):
        new_position = tuple(incoming.get(k) for k in POSITION)
        here = tuple(current.get(k) for k in POSITION)
        if here != new_position:
            if here == tuple(base.get(k) for k in POSITION):
                out.changes.update(zip(POSITION, new_position, strict=True))
            elif new_position != tuple(last.get(k) for k in POSITION):
                out.conflicts.append(("position", here, new_position))
    for name in SET_FIELDS:
        if name in ignore or (name not in incoming and name not in last):
            continue
        here, before = _as_set(current.get(name)), _as_set(base.get(name))
        merged = (_as_set(incoming[name]) | (here - before)) - (before - here)
        if merged != here:
            out.changes[name] = _as_list(merged)
    return out
