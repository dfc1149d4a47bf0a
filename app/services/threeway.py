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

`aggregate` is the same rule for an entry fed by several sources, where who holds each
field is known (app.services.provenance): an editor's field is never overwritten (a
source that changed its value there is a conflict); a source's field goes to the
source of highest priority that gives a value. A field whose holder is not known (an
entry older than provenance) falls back to the rule above: it follows a source only
if its value is what a source said, else it reads as an editor's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

POSITION = ("lon", "lat")
# The holder of a field an editor wrote (or one nobody can vouch for).
EDITOR = "editor"
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
    position_ignored = "position" in ignore
    for name in sorted((set(incoming) | set(last)) - skip):
        new = incoming.get(name)
        if name not in current or current[name] == new:
            continue
        if current[name] == base.get(name):
            out.changes[name] = new
        elif new != last.get(name):
            out.conflicts.append((name, current[name], new))
    if not position_ignored and any(k in incoming or k in last for k in POSITION):
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


@dataclass(frozen=True)
class Claim:
    """What one source says about an entry: `values` by field (a field it does not
    map is absent; None or "" says "nothing"); None when its values are not kept (a
    sync pull keeps its own baseline): it then only holds what it wrote."""

    origin: str
    priority: int
    values: Mapping[str, Any] | None


@dataclass
class Aggregate:
    changes: dict[str, Any] = field(default_factory=dict)
    conflicts: list[tuple[str, Any, Any]] = field(default_factory=list)
    # field -> the origin that now holds it (only the fields that change hands).
    holders: dict[str, str | None] = field(default_factory=dict)


def _empty(value: Any) -> bool:
    return value is None or value == ""


def aggregate(current: Mapping[str, Any], claims: Iterable[Claim],
              holders: Mapping[str, str | None], fields: Iterable[str], *,
              refreshing: str | None = None,
              last: Mapping[str, Any] | None = None) -> Aggregate:
    """The value each of `fields` should have, given every source's claim.

    `holders` maps a field to its holder's origin or EDITOR (absent: unknown).
    `refreshing` is the origin whose new values are in `claims` now, `last` what it
    said before: its changes are what may be reported as conflicts with an editor.
    """
    out = Aggregate()
    claims = list(claims)
    rank = {c.origin: (c.priority, -index) for index, c in enumerate(claims)}
    for name in fields:
        here = current.get(name)
        holder = holders.get(name)
        if holder is None:
            holder = _unknown_holder(name, here, claims, refreshing, last)
        mine = next((c for c in claims if c.origin == refreshing and c.values is not None
                     and name in c.values), None)
        if holder == EDITOR:
            if mine is not None and mine.values[name] != here \
                    and (last is None or mine.values[name] != last.get(name)):
                out.conflicts.append((name, here, mine.values[name]))
            continue
        present = [c for c in claims if c.values is not None and name in c.values]
        givers = [c for c in present if not _empty(c.values[name])]
        held = next((c for c in claims if c.origin == holder), None)
        # The holder keeps a tie; an unknown-valued holder (a pull) keeps its value
        # unless a source of higher priority gives one.
        best = max(givers, key=lambda c: (c.priority, c.origin == holder, rank[c.origin]),
                   default=None)
        if held is not None and held.values is None and (
                best is None or best.priority <= held.priority):
            continue
        if best is not None:
            if best.values[name] != here:
                out.changes[name] = best.values[name]
                out.holders[name] = best.origin
            elif holder != best.origin:
                out.holders[name] = best.origin
        elif held is not None and held in present and not _empty(here):
            out.changes[name] = None  # its holder says nothing now: cleared
            out.holders[name] = None
    return out


def _unknown_holder(name: str, here: Any, claims: list[Claim], refreshing: str | None,
                    last: Mapping[str, Any] | None) -> str | None:
    """Who holds a field no provenance records: the refreshing source if the value is
    what it said last; an editor if it is empty where that source gave a value; else a
    source whose value it is; nobody if it is empty; else an editor, whose text is
    never overwritten."""
    if refreshing is not None and last is not None and name in last and last[name] == here:
        return refreshing
    if _empty(here) and last is not None and not _empty(last.get(name)):
        return EDITOR  # the source gave it before; someone here emptied it
    said = [c for c in claims if c.values is not None and c.values.get(name) == here
            and c.origin != refreshing]
    if said and not _empty(here):
        return max(said, key=lambda c: c.priority).origin
    if _empty(here):
        return None
    return EDITOR
