"""The INSEE code of an entry, derived from its address, without overriding an editor.

On every write (app/services/entries.save_entry): when the address changes and the
writer did not set the code itself, an empty code, or one that was the old address's
derived code, becomes the new address's (empty when it has none); a code that differs
from what the old address gives was typed by someone, and stays. `flask communes fill`
fills the empty codes of existing entries the same way and reports what it could not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .index import CommuneIndex, Match, commune_index

ADDRESS = ("postcode", "city")


def _departments() -> frozenset[str]:
    from ..territory import territory

    return territory().departments


def lookup(state: Mapping[str, Any], index: CommuneIndex | None = None) -> Match:
    index = commune_index() if index is None else index
    return index.lookup(state.get("postcode"), state.get("city"), _departments())


def fill_insee_code(desired: dict[str, Any], current: Mapping[str, Any] | None,
                    given: Mapping[str, Any], index: CommuneIndex | None = None) -> None:
    """Set desired["insee_code"] from the address when the rule above says so."""
    stored = (current or {}).get("insee_code")
    if "insee_code" in given and given["insee_code"] != stored:
        return  # set by this write: the writer's
    if current is not None and all(desired.get(k) == current.get(k) for k in ADDRESS):
        return
    index = commune_index() if index is None else index  # a batch looks it up once
    if not len(index):
        return  # no list loaded: nothing to derive from
    if stored and current is not None and lookup(current, index).code != stored:
        return  # not the old address's code: someone typed it
    desired["insee_code"] = lookup(desired, index).code


@dataclass
class FillReport:
    filled: int = 0
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # slug, status, why

    def count(self, status: str) -> int:
        return sum(1 for p in self.problems if p[1] == status)
