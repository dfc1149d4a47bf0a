"""What an editor decides about a twin flagged by an import.

"Same place": the import's source is attached to the existing entry and the entry is
settled between its sources (an editor's fields stay; app.services.provenance);
later imports match it; "different place": the record is created as flagged.
Either way the report item is marked resolved.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy.orm.attributes import flag_modified

from app.extensions import db
from app.models import Entry, ImportRun
from app.services.entries import SourceRef, find_by_source, save_entry, snapshot
from app.services.errors import NotFoundError, WriteValidationError
from app.services.provenance import settle
from app.services.revisions import Author

Decision = Literal["same", "create"]


def flagged_duplicate(run: ImportRun, index: int) -> dict[str, Any]:
    try:
        item = run.report[index]
    except (IndexError, TypeError):
        raise NotFoundError(f"Import run {run.id} has no report item {index}") from None
    if item.get("kind") != "duplicate":
        raise NotFoundError(f"Item {index} of import run {run.id} is not a flagged twin")
    return item


def resolve_duplicate(run: ImportRun, index: int, decision: Decision, *,
                      author: Author) -> Entry:
    """Apply an editor's decision on report item `index` of `run`; returns the entry."""
    item = flagged_duplicate(run, index)
    if item.get("resolved"):
        raise WriteValidationError({"item": ["This twin was already resolved."]})
    details = item["details"]
    mapped = {**details["data"], **({"extra": details["extra"]} if details.get("extra")
                                    else {})}
    source = SourceRef(details["origin"], item["external_id"],
                       {"raw": details.get("raw", {}), "mapped": mapped},
                       details.get("licence"))
    if find_by_source(source.origin, source.external_id) is not None:
        raise WriteValidationError({"item": [
            f"{source.origin} {source.external_id} already belongs to an entry."]})
    if decision == "same":
        if not item.get("entry"):
            raise WriteValidationError({"item": ["This twin is another record of the same "
                                                 "import: import again once it exists."]})
        entry = db.session.get(Entry, item["entry"])
        if entry is None or entry.deleted_at is not None:
            raise NotFoundError("The existing entry is gone")
        # One more source of the entry: what an editor wrote stays; a field the
        # sources hold goes to the one of highest priority (app.services.provenance).
        result = save_entry(entry, {}, author=author, expected_version=None, source=source,
                            comment=f"Same place as {source.origin} {source.external_id}",
                            commit=False)
        settled = settle(entry, snapshot(entry))
        if settled.changes or settled.attribution:
            result = save_entry(entry, settled.changes, author=Author(label="sources"),
                                expected_version=None, commit=False,
                                attribution=settled.attribution,
                                comment=f"Settled with {source.origin} {source.external_id}")
    else:
        result = save_entry(None, details["data"], author=author, expected_version=None,
                            source=source, commit=False, strict=False,
                            comment=f"Import {source.origin}: not a twin")
    report = list(run.report)
    report[index] = {**item, "resolved": decision, "resolved_entry": str(result.entry.id)}
    run.report = report
    flag_modified(run, "report")
    db.session.commit()
    return result.entry
