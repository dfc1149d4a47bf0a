"""Proposals: contributors' creations and edits wait, pending, until an editor decides.

A proposed creation is written as an entry with moderation "pending" (invisible to
the public) plus a Proposal row. A proposed edit of a published entry is validated
exactly like a write (`plan_entry`) and kept in the Proposal, so the published
version does not change; accepting applies, through `save_entry`, the fields the
contributor changed from the version they started from.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from ..extensions import db
from ..models import Entry, Proposal, User
from ..normalise import clean_text
from .entries import (
    CONTENT_KEYS,
    SourceRef,
    WriteResult,
    plan_entry,
    save_entry,
    snapshot,
)
from .errors import WriteValidationError, coded
from .policy import EDITOR_FIELDS, is_editor
from .revisions import Author, note, revision_at

# What a proposal may change: moderation is the editors' decision.
PROPOSABLE_KEYS = tuple(k for k in CONTENT_KEYS if k != "moderation")
SUGGESTION_LABEL = "suggestion"


@dataclass(frozen=True)
class Review:
    """A proposal seen against the entry as it is now."""

    proposal: Proposal
    base: dict[str, Any]       # the entry when the proposal was written
    current: dict[str, Any]    # the entry now
    proposed: dict[str, Any]   # the entry as the proposal would leave it
    changed: list[str]         # keys the proposal changes (from base)
    conflicting: list[str]     # keys also changed since, to something else


def _author_columns(author: Author) -> dict[str, Any]:
    return {"author_id": author.user.id if author.user else None,
            "author_label": None if author.user else author.label}


def propose_entry(data: Mapping[str, Any], *, author: Author, comment: str | None = None,
                  contact: str | None = None, source: SourceRef | None = None,
                  entry_id: uuid.UUID | None = None, locale: str | None = None,
                  commit: bool = True) -> Proposal:
    """A new entry that waits: written with moderation "pending", plus its proposal.
    `locale` is the language it was written in: its author hears of the decision in it."""
    result = save_entry(None, {**data, "moderation": "pending"}, author=author,
                        expected_version=None, comment=comment or note("proposed"), commit=False,
                        source=source, entry_id=entry_id)
    proposal = Proposal(entry_id=result.entry.id, action="create",
                        base_version=result.entry.version, comment=_cut(comment),
                        contact=_cut(contact, 254), locale=locale, **_author_columns(author))
    db.session.add(proposal)
    _finish(commit)
    return proposal


def propose_edit(entry: Entry, data: Mapping[str, Any], *, author: Author,
                 base_version: int, comment: str | None = None, partial: bool = True,
                 locale: str | None = None, commit: bool = True) -> Proposal | None:
    """An edit of `entry` kept aside for review; None when it would change nothing.

    A contributor who already has a pending proposal on the entry updates it rather
    than stacking a second one; a partial edit (a PATCH) changes that proposal, as the
    form does, which opens on it: what it proposed before stays proposed.
    """
    existing = _pending_of(entry, author)
    if existing is not None and partial:
        started = review(existing).proposed
        data = {**{k: started[k] for k in PROPOSABLE_KEYS if k not in EDITOR_FIELDS}, **data}
    proposed = plan_entry(entry, data, partial=partial)
    current = snapshot(entry)
    proposed["moderation"] = current["moderation"]
    if all(proposed[k] == current[k] for k in CONTENT_KEYS):
        if existing is not None:  # back to the published content: nothing to propose
            existing.state, existing.review_comment = "rejected", note("withdrawn")
            existing.reviewed_at = datetime.now(UTC)
            _finish(commit)
        return None
    if existing is None:
        existing = Proposal(entry_id=entry.id, action="update", **_author_columns(author))
        db.session.add(existing)
    existing.data = proposed
    existing.base_version = base_version
    existing.comment = _cut(comment)
    existing.locale = locale or existing.locale
    existing.updated_at = datetime.now(UTC)
    _finish(commit)
    return existing


def pending_for(entry: Entry, user: User) -> Proposal | None:
    """`user`'s pending edit of `entry`, if any (their form starts from it)."""
    return _pending_of(entry, Author(user=user))


def review(proposal: Proposal) -> Review:
    entry = proposal.entry
    current = snapshot(entry)
    if proposal.action == "create":
        base = {key: None for key in current}
        proposed = dict(current)
        changed = [k for k in PROPOSABLE_KEYS if current[k] not in (None, [], "")]
        return Review(proposal, base, current, proposed, changed, [])
    revision = revision_at("entry", entry.id, proposal.base_version)
    base = revision.snapshot if revision is not None else current
    changed = [k for k in PROPOSABLE_KEYS if proposal.data.get(k) != base.get(k)]
    proposed = dict(current)
    proposed.update({k: proposal.data.get(k) for k in changed})
    conflicting = [k for k in changed
                   if current.get(k) != base.get(k) and current.get(k) != proposal.data.get(k)]
    return Review(proposal, base, current, proposed, changed, conflicting)


def accept(proposal: Proposal, *, reviewer: User, expected_version: int | None,
           comment: str | None = None, commit: bool = True) -> WriteResult:
    """Publish a proposal: its changed fields are written over the current entry."""
    _check_open(proposal)
    seen = review(proposal)
    if proposal.action == "create":
        data: dict[str, Any] = {"moderation": "published"}
    else:
        data = {k: proposal.data.get(k) for k in seen.changed}
    result = save_entry(proposal.entry, data, author=Author(user=reviewer),
                        expected_version=expected_version, partial=True, commit=False,
                        comment=note("proposal_accepted", comment, id=proposal.id,
                                     author=proposal.author_name))
    close(proposal, "accepted", reviewer=reviewer, comment=comment, commit=commit)
    return result


def reject(proposal: Proposal, *, reviewer: User, comment: str | None,
           commit: bool = True) -> None:
    """Refuse a proposal, saying why; a proposed creation stays stored, as "rejected"."""
    _check_open(proposal)
    if not comment or not comment.strip():
        raise WriteValidationError({"review_comment": [coded(
            "reason_needed", "Say why, so that the contributor can understand.")]})
    if proposal.action == "create" and proposal.entry.moderation == "pending":
        save_entry(proposal.entry, {"moderation": "rejected"}, author=Author(user=reviewer),
                   expected_version=None, partial=True, commit=False,
                   comment=note("proposal_rejected", comment.strip(), id=proposal.id))
    close(proposal, "rejected", reviewer=reviewer, comment=comment, commit=commit)


def close(proposal: Proposal, state: str, *, reviewer: User, comment: str | None,
          commit: bool = True) -> Proposal:
    """Record the decision (used too when an editor edits a proposal before publishing it)."""
    _check_open(proposal)
    proposal.state = state
    proposal.reviewer_id = reviewer.id
    proposal.review_comment = _cut(comment.strip() if comment else None)
    proposal.reviewed_at = datetime.now(UTC)
    _finish(commit)
    return proposal


def write_directly(entry: Entry, data: Mapping[str, Any], *, author: Author,
                   expected_version: int | None, comment: str | None = None,
                   source: SourceRef | None = None, partial: bool = True,
                   commit: bool = True) -> tuple[WriteResult, list[Proposal]]:
    """A write that changes the entry itself (`policy.writes_directly`: an editor, or the
    author of an entry that waits), through the form or the API alike: when an editor's
    write publishes or rejects a waiting entry, its creation proposal is closed with it.
    Returns the write and the proposals it closed (their authors are told)."""
    result = save_entry(entry, data, author=author, expected_version=expected_version,
                        comment=comment, source=source, partial=partial, commit=False)
    settled: list[Proposal] = []
    if author.user is not None and is_editor(author.user):
        settled = settle_creation(entry, reviewer=author.user, comment=comment, commit=False)
    _finish(commit)
    return result, settled


def settle_creation(entry: Entry, *, reviewer: User, comment: str | None,
                    commit: bool = True) -> list[Proposal]:
    """An editor published or rejected a pending entry by editing it: its proposal is closed
    accordingly, so the queue holds only what still waits. Returns the proposals closed."""
    if entry.moderation == "pending":
        return []
    state = "accepted" if entry.moderation == "published" else "rejected"
    closed = list(db.session.scalars(select(Proposal).where(
        Proposal.entry_id == entry.id, Proposal.action == "create",
        Proposal.state == "pending")))
    for proposal in closed:
        close(proposal, state, reviewer=reviewer, comment=comment, commit=False)
    _finish(commit)
    return closed


def pending_proposals() -> list[Proposal]:
    return list(db.session.scalars(
        select(Proposal).where(Proposal.state == "pending").order_by(Proposal.created_at,
                                                                       Proposal.id)))


def pending_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Proposal)
                             .where(Proposal.state == "pending")) or 0


def proposals_of(user: User, limit: int = 50) -> list[Proposal]:
    return list(db.session.scalars(
        select(Proposal).where(Proposal.author_id == user.id)
        .order_by(Proposal.created_at.desc(), Proposal.id.desc()).limit(limit)))


def _pending_of(entry: Entry, author: Author) -> Proposal | None:
    if author.user is None:
        return None
    return db.session.scalar(select(Proposal).where(
        Proposal.entry_id == entry.id, Proposal.author_id == author.user.id,
        Proposal.action == "update", Proposal.state == "pending"))


def _check_open(proposal: Proposal) -> None:
    if proposal.state != "pending":
        raise WriteValidationError({"proposal": [coded(
            "already_reviewed", "This proposal was already reviewed.")]})


def _cut(text: str | None, length: int = 1000) -> str | None:
    """A contributor's or reviewer's note as the input schemas store text, cut to fit."""
    text = clean_text(text or "") or ""
    return text[:length] or None


def _finish(commit: bool) -> None:
    if commit:
        db.session.commit()
    else:
        db.session.flush()
