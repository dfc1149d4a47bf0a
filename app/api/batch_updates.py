"""The updates of a batch write (items with `if_match`), written together by the write
service's `update_entries`: what a mirror's push sends once its entries are there.

An item is taken here when its single PUT would be a plain replacement by an editor:
an entry found by its own id, alive, not waiting for review, a well-formed source, and
no link to another item of the batch that is not written yet. Each keeps the single
PUT's outcome: 412 for a stale If-Match (checked here, and again by the version check
of the UPDATE itself), 422 naming the field, 200 with the new version. Any other item
is left to the single PUT's code (app/api/batch_writes.py `_one`).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from werkzeug.http import parse_etags

from ..extensions import db
from ..models import Entry, Proposal
from ..services.entry_updates import Update, update_entries
from ..services.errors import ConflictError, WriteValidationError
from ..services.links import as_uuid
from ..services.policy import can_edit_entry, writes_directly
from .writes import author, etag_matches, invalid, replacement, stale, unseen_answer, user


def batch_updates(items: list[Any], outcomes: list[dict[str, Any] | None],
                  source_of: Any, answer: Any) -> None:
    """Write the plain updates among the unanswered `items`; their outcomes are set in
    `outcomes` (by index). `source_of` reads an item's source, `answer` turns a
    Response into an item's outcome (app/api/batch_writes.py)."""
    candidates: dict[int, tuple[uuid.UUID, dict[str, Any]]] = {}
    for index, item in enumerate(items):
        if outcomes[index] is not None or not isinstance(item, dict):
            continue
        key = as_uuid(item.get("id"))
        if key is None or not isinstance(item.get("if_match"), str) \
                or "if_none_match" in item or not isinstance(item.get("entry"), dict) \
                or ("source" in item and source_of(item.get("source")) is None):
            continue
        candidates[index] = (key, item)
    if not candidates:
        return
    keys = [key for key, _ in candidates.values()]
    if len(set(keys)) != len(keys):
        return  # the same entry twice: each PUT in its order
    entries = {e.id: e for e in db.session.scalars(select(Entry).where(Entry.id.in_(keys)))}
    # A pending entry's creation proposal is closed by an editor's write: the single PUT.
    waiting = set(db.session.scalars(select(Proposal.entry_id).where(
        Proposal.entry_id.in_(list(entries)), Proposal.action == "create",
        Proposal.state == "pending")))
    unwritten = {str(as_uuid(item.get("id"))) for index, item in enumerate(items)
                 if isinstance(item, dict) and outcomes[index] is None}
    taken: dict[int, Update] = {}
    for index, (key, item) in candidates.items():
        entry = entries.get(key)
        body = dict(item["entry"])
        if entry is None or entry.id in waiting or entry.deleted_at is not None \
                or entry.moderation == "pending" or unseen_answer(entry, str(key)) is not None \
                or not can_edit_entry(user(), entry) or not writes_directly(user(), entry) \
                or body.get("id", str(key)) != str(key) \
                or any(isinstance(r, dict) and str(r.get("target")) in unwritten
                       and str(r.get("target")) != str(key)
                       for r in body.get("relations") or [] if isinstance(r, dict)):
            continue
        if not etag_matches(entry, parse_etags(item["if_match"])):
            outcomes[index] = answer(key, stale(entry, item["if_match"]))
            continue
        body.pop("id", None)
        source = source_of(item["source"]) if "source" in item else None
        taken[index] = Update(entry, replacement(entry, body, partial=False),
                              expected_version=entry.version, source=source, partial=False)
    if not taken:
        return
    results = update_entries(list(taken.values()), author=author())
    # Read before the commit expires them (else one SELECT per entry), and the keys
    # from the request, not from the expired entries.
    versions = [None if isinstance(r, Exception) else r.entry.version for r in results]
    db.session.commit()
    for index, result, version in zip(taken, results, versions, strict=True):
        key = candidates[index][0]
        if isinstance(result, WriteValidationError):
            outcomes[index] = answer(key, invalid(result.messages))
        elif isinstance(result, ConflictError):
            outcomes[index] = answer(key, stale(db.session.get(Entry, key),
                                                items[index]["if_match"]))
        else:
            outcomes[index] = {"id": str(key), "status": 200, "version": version}
