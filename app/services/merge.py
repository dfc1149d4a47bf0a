"""Merge two entries that are the same place: the survivor takes the other's links.

Relations (both directions), evaluation sheets, sources and tags move to the
survivor; the other entry becomes a tombstone ("merged into …") so that mirrors
learn of it. Every entry whose content changes gets its revision through the
write path.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from ..extensions import db
from ..models import Entry, Evaluation, Relation, Source
from .entries import delete_entry, save_entry
from .errors import WriteValidationError, coded
from .revisions import Author


@dataclass(frozen=True)
class MergeResult:
    survivor: Entry
    merged: Entry
    relations: int
    sheets: int
    sources: int


def merge_entries(survivor: Entry, other: Entry, *, author: Author,
                  commit: bool = True) -> MergeResult:
    """Move `other`'s relations, sheets, sources and tags to `survivor`; tombstone `other`."""
    if survivor.id == other.id:
        raise WriteValidationError({"other": [coded("self_merge",
                                                  "An entry cannot be merged into itself.")]})
    if survivor.deleted_at is not None or other.deleted_at is not None:
        raise WriteValidationError({"other": [coded("merge_needs_live",
                                                  "Both entries must be live to be merged.")]})
    comment = f"Merged {other.slug} into {survivor.slug}"
    mine = {(r.type, r.target_id) for r in survivor.relations_out}
    moved_out = [r for r in other.relations_out
                 if r.target_id != survivor.id and (r.type, r.target_id) not in mine]
    relations = [{"type": r.type, "target": str(r.target_id)} for r in survivor.relations_out]
    relations += [{"type": r.type, "target": str(r.target_id)} for r in moved_out]
    tags = sorted({t.slug for t in survivor.tags} | {t.slug for t in other.tags})
    save_entry(survivor, {"relations": relations, "tags": tags}, author=author,
               expected_version=survivor.version, comment=comment, commit=False)

    # Links to the other entry now point to the survivor (each linking entry revised).
    incoming = list(db.session.scalars(select(Relation).where(Relation.target_id == other.id)))
    moved_in = 0
    for source_id in sorted({r.source_id for r in incoming}, key=str):
        linking = db.session.get(Entry, source_id)
        if linking.id == survivor.id:
            continue
        wanted = []
        for r in linking.relations_out:
            target = survivor.id if r.target_id == other.id else r.target_id
            wanted.append({"type": r.type, "target": str(target)})
        moved_in += sum(1 for r in linking.relations_out if r.target_id == other.id)
        save_entry(linking, {"relations": wanted}, author=author,
                   expected_version=linking.version, comment=comment, commit=False)

    sheets = db.session.execute(update(Evaluation).where(Evaluation.entry_id == other.id)
                                .values(entry_id=survivor.id)).rowcount
    sources = db.session.execute(update(Source).where(Source.entry_id == other.id)
                                 .values(entry_id=survivor.id)).rowcount
    db.session.expire(survivor, ["sources"])
    db.session.expire(other, ["sources"])
    # The other's own outgoing links went to the survivor; drop them from the tombstone.
    if other.relations_out:
        save_entry(other, {"relations": []}, author=author, expected_version=other.version,
                   comment=comment, commit=False)
    delete_entry(other, expected_version=other.version, author=author, comment=comment,
                 commit=False)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return MergeResult(survivor, other, len(moved_out) + moved_in, sheets, sources)
