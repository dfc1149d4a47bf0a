"""Where a candidate is: its geocoded position, its INSEE code, and the territory check.

Run with the validation (importers.prepare), wherever that runs, from what the parent
put on the mapping before the run: the communes index (app/communes/index.py), the
territory (app/territory.py) and the addresses geocoded by `--geocode`
(importers/geocode.py). A code or position the source gives is never replaced.
"""

from __future__ import annotations

from app.services.runs import Problem

from .mapping import BaseMapping
from .records import Candidate


def before_validation(candidate: Candidate, mapping: BaseMapping,
                      problems: list[Problem]) -> None:
    """Fill a missing position from the geocoded answers and a missing INSEE code from
    the address; what could not be filled is reported, the row goes on."""
    data = candidate.data
    outcome = mapping.geocoded.get(candidate.external_id)
    if outcome is not None and data.get("lon") is None:
        _geocoded(candidate, outcome, problems)
    index = mapping.communes
    if index is None or not len(index) or data.get("insee_code"):
        return
    if not (data.get("postcode") or data.get("city")):
        return
    departments = mapping.territory.departments if mapping.territory else None
    match = index.lookup(data.get("postcode"), data.get("city"), departments)
    if match.code:
        data["insee_code"] = match.code
    else:
        problems.append(Problem("warning", f"no INSEE code: {match.reason}", row=candidate.row,
                                external_id=candidate.external_id, field="insee_code",
                                details={"candidates": list(match.candidates)}
                                if match.candidates else None))


def _geocoded(candidate: Candidate, outcome: object, problems: list[Problem]) -> None:
    status = getattr(outcome, "status", None)
    answer = getattr(outcome, "answer", None)
    where = {"row": candidate.row, "external_id": candidate.external_id, "field": "lon"}
    if status == "found" and answer:
        candidate.data["lon"], candidate.data["lat"] = answer["lon"], answer["lat"]
        candidate.extra["geocoding"] = {k: answer.get(k) for k in ("score", "label", "type")}
        return
    if status == "low_score" and answer:
        problems.append(Problem("warning", f"the address service's best answer "
                                f"{answer.get('label')!r} has a low score "
                                f"({answer.get('score'):.2f}): its position is not used",
                                details={"score": answer.get("score")}, **where))
    elif status == "not_found":
        problems.append(Problem("warning", "the address service found no position for "
                                "this address", **where))
    else:
        problems.append(Problem("warning", "the address service did not answer: the row is "
                                "left without a position", **where))


def inside(candidate: Candidate, mapping: BaseMapping, problems: list[Problem]) -> bool:
    """False (reported, not imported) for a candidate outside the territory, unless
    the run imports from anywhere."""
    if mapping.territory is None or mapping.anywhere:
        return True
    data = candidate.data
    held = mapping.territory.holds(data.get("lon"), data.get("lat"), data.get("insee_code"))
    if held is False:
        where = (f"commune {data['insee_code']}" if data.get("insee_code")
                 else f"position {data.get('lon')}, {data.get('lat')}")
        problems.append(Problem(
            "skipped", f"outside the territory ({where}; territory: {mapping.territory}); "
            "not imported (--anywhere imports it)", row=candidate.row,
            external_id=candidate.external_id))
        return False
    return True
