"""`--geocode`: the position of rows that give an address and no coordinates.

Before the run, the file is read once for the rows without a position, and their
addresses are sent to the address service's CSV endpoint in batches (answers cached in
the database). The outcomes go on the mapping (`geocoded`), where the reading of the
run picks them up (importers.placing): a found position is used and its score kept in
the source; a miss, a low score or an unreachable service is reported on the row,
which goes on without a position (and is refused if its kind needs one).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from .mapping import BaseMapping
from .records import Candidate


def wanted(items: Iterable[Any]) -> dict[str, tuple[str, str | None, str | None]]:
    """{external id: (street, postcode, city)} of the candidates with an address and no
    position."""
    out = {}
    for item in items:
        if not isinstance(item, Candidate) or item.data.get("lon") is not None:
            continue
        data = item.data
        if data.get("street") or data.get("city") or data.get("postcode"):
            out[item.external_id] = (data.get("street"), data.get("postcode"), data.get("city"))
    return out


def geocode(mapping: BaseMapping, items: Iterable[Any], service: Any) -> Counter[str]:
    """Geocode the rows of `items` that need it; outcomes on `mapping.geocoded`; returns
    the count of each outcome (found, low_score, not_found, unavailable)."""
    outcomes = service.search_batch(wanted(items))
    mapping.geocoded = outcomes
    return Counter(o.status for o in outcomes.values())
