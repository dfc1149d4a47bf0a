"""Detaching a source from an entry: the source no longer feeds it.

An editor who finds that a source's record is not this place (a wrong twin link by an
import) or no longer wants a source to write over an entry detaches it. Its records
on the entry go (their Source rows, and the fields they held in the provenance), and
each is remembered in `source_exclusions`, so that the source's next runs (the import
pipeline, a sync pull) skip the record: they neither update the entry nor create it
anew. The entry's values stay exactly as they are; a field whose holder was the
detached source now reads as an editor's (app.services.threeway's unknown holder), so
no other source overwrites it silently. `reattach` forgets the exclusion: the next run
meets the record as new (a twin is linked or flagged, else it is created).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select

from ..extensions import db
from ..models import Entry, EntryFieldSource, Source, SourceExclusion, User


@dataclass(frozen=True)
class Detached:
    origin: str
    external_ids: list[str]
    fields: list[str]  # the provenance fields it held


def detach_source(entry: Entry, origin: str, *, user: User | None = None,
                  commit: bool = True) -> Detached:
    """Detach every record of `origin` from `entry`; LookupError when it has none."""
    sources = list(db.session.scalars(select(Source).where(
        Source.entry_id == entry.id, Source.origin == origin).order_by(Source.id)))
    if not sources:
        raise LookupError(f"The entry {entry.slug} has no source {origin!r}.")
    fields = list(db.session.scalars(select(EntryFieldSource.field).where(
        EntryFieldSource.entry_id == entry.id, EntryFieldSource.origin == origin)
        .order_by(EntryFieldSource.field)))
    for source in sources:
        db.session.add(SourceExclusion(origin=origin, external_id=source.external_id,
                                       entry_id=entry.id,
                                       user_id=user.id if user is not None else None))
        db.session.delete(source)
    db.session.execute(delete(EntryFieldSource).where(
        EntryFieldSource.entry_id == entry.id, EntryFieldSource.origin == origin))
    db.session.flush()
    db.session.expire(entry, ["sources"])
    if commit:
        db.session.commit()
    return Detached(origin, [s.external_id for s in sources], fields)


def reattach(exclusion_id: int, entry_id: uuid.UUID, *, commit: bool = True) -> SourceExclusion:
    """Forget a detachment of the entry `entry_id`; LookupError when there is none."""
    row = db.session.scalar(select(SourceExclusion).where(
        SourceExclusion.id == exclusion_id, SourceExclusion.entry_id == entry_id))
    if row is None:
        raise LookupError(f"No detached source {exclusion_id} on this entry.")
    db.session.delete(row)
    if commit:
        db.session.commit()
    return row


def detached_ids(origin: str) -> set[str]:
    """The external ids of `origin` its runs skip (read once per run: editors detach a
    few records, not thousands)."""
    return set(db.session.scalars(select(SourceExclusion.external_id).where(
        SourceExclusion.origin == origin)))


def is_detached(origin: str, external_id: str) -> bool:
    """Whether an editor detached this record (a write through the API naming it)."""
    return db.session.scalar(select(SourceExclusion.id).where(
        SourceExclusion.origin == origin, SourceExclusion.external_id == external_id)
    ) is not None


def exclusions_of(entry_id: uuid.UUID) -> list[SourceExclusion]:
    return list(db.session.scalars(select(SourceExclusion).where(
        SourceExclusion.entry_id == entry_id).order_by(SourceExclusion.created_at.desc(),
                                                        SourceExclusion.id.desc())))


def entry_detached_from(origin: str, entry_id: uuid.UUID) -> bool:
    """Whether an editor detached `origin` from the entry `entry_id` here: its sheets then
    no longer follow that source either (a deletion there deletes nothing here)."""
    return db.session.scalar(select(SourceExclusion.id).where(
        SourceExclusion.origin == origin, SourceExclusion.entry_id == entry_id).limit(1)
    ) is not None
