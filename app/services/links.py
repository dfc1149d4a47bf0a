"""One identity across instances: aliases of local entries and sheets, and finding twins.

A mirror meets another instance's entry under that instance's id. It is the same as a
local entry when one of its ids is known here (the id itself, an alias recorded in
`identity_links`, or a source's external id) or when it is a twin by the one twin rule
(app/services/twin_rule.py: the same SIRET, within 50 m with a similar name, or the
same website).
Then the other id is recorded as an alias of the local row (`link`), and every later
lookup by that id finds the local row: nothing is created twice. `unlink` undoes it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import Entry, Evaluation, IdentityLink, SheetSource, Source
from .link_reasons import LinkReason, link_reason
from .twin_rule import (
    DUPLICATES_SQL,
    twin_params,
    twin_reason,
)


@dataclass(frozen=True)
class Twin:
    entry: Entry
    reason: LinkReason


def as_uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


def aliased_id(entity_type: str, alias_id: uuid.UUID) -> uuid.UUID | None:
    return db.session.scalar(select(IdentityLink.entity_id).where(
        IdentityLink.entity_type == entity_type, IdentityLink.alias_id == alias_id))


def aliases_of(entity_type: str, entity_id: uuid.UUID) -> list[uuid.UUID]:
    return list(db.session.scalars(select(IdentityLink.alias_id).where(
        IdentityLink.entity_type == entity_type, IdentityLink.entity_id == entity_id)
        .order_by(IdentityLink.alias_id)))


def _by_id_or_alias(model: Any, entity_type: str, ref: Any) -> Any:
    """The local row an id names: its own, or the one it is an alias of."""
    key = as_uuid(ref)
    if key is None:
        return None
    row = db.session.get(model, key)
    if row is None:
        local = aliased_id(entity_type, key)
        row = db.session.get(model, local) if local is not None else None
    return row


def local_entry(ref: Any) -> Entry | None:
    """The local entry an id names: its own, or one it is an alias of."""
    return _by_id_or_alias(Entry, "entry", ref)


def find_sheet(ref: Any) -> Evaluation | None:
    """The local sheet an id names: its own, or one it is an alias of."""
    return _by_id_or_alias(Evaluation, "evaluation", ref)


def is_public_sheet(sheet: Evaluation) -> bool:
    """Published, not deleted, and its entry one the public sees."""
    from ..formats.sheet_changes import public_sheet_condition

    return bool(db.session.scalar(select(Evaluation.id).where(
        Evaluation.id == sheet.id, public_sheet_condition())))


def link(entity_type: str, alias_id: uuid.UUID, entity_id: uuid.UUID, *, origin: str,
         reason: LinkReason) -> IdentityLink | None:
    """Record `alias_id` as another id of the local row `entity_id` (idempotent), with why
    (`link_reason`); None when the alias is the row's own id or already names a row."""
    if not isinstance(reason, dict) or "code" not in reason:
        raise TypeError(f"a link's reason is a code and its parameters, not {reason!r}")
    if alias_id == entity_id:
        return None
    model = Entry if entity_type == "entry" else Evaluation
    if db.session.get(model, alias_id) is not None:
        return None
    existing = db.session.scalar(select(IdentityLink).where(
        IdentityLink.entity_type == entity_type, IdentityLink.alias_id == alias_id))
    if existing is not None:
        return existing
    row = IdentityLink(entity_type=entity_type, alias_id=alias_id, entity_id=entity_id,
                       origin=origin, reason=reason)
    db.session.add(row)
    db.session.flush()
    return row


def known_entry(ids: Iterable[Any]) -> Twin | None:
    """A local entry one of `ids` names: as its id, an alias, or a source's external id."""
    for raw in ids:
        key = as_uuid(raw)
        if key is None:
            continue
        entry = local_entry(key)
        if entry is None:
            entry = db.session.scalar(select(Entry).join(Source).where(
                Source.external_id == str(key)).limit(1))
        if entry is not None:
            return Twin(entry, link_reason("known_entry", id=str(key)))
    return None


def entry_twin(record: Mapping[str, Any], *, not_from: str | None = None) -> Twin | None:
    """A live local entry that is a twin of `record` (name, lon, lat, website, siret) by the
    twin rule; entries that came from `not_from` are other entries of that same source,
    never its twins."""
    if not record.get("name"):
        return None
    row = db.session.execute(DUPLICATES_SQL, twin_params([record])).first()
    if row is None:
        return None
    if not_from is not None and db.session.scalar(select(Source.id).where(
            Source.entry_id == row.id, Source.origin == not_from).limit(1)) is not None:
        return None
    return Twin(db.session.get(Entry, row.id), twin_reason(row))


def sheet_twin(entry_id: uuid.UUID, title: str, held_on: date, *,
               not_from: str | None = None) -> Evaluation | None:
    """A live sheet of the same entry with the same title and meeting date (the demo
    loader's rule), not one that came from `not_from`."""
    stmt = select(Evaluation).where(Evaluation.entry_id == entry_id,
                                    Evaluation.title == title, Evaluation.held_on == held_on,
                                    Evaluation.deleted_at.is_(None))
    for sheet in db.session.scalars(stmt):
        if not_from is None or db.session.scalar(select(SheetSource.id).where(
                SheetSource.evaluation_id == sheet.id,
                SheetSource.origin == not_from)) is None:
            return sheet
    return None


def record_sheet_source(sheet: Evaluation, origin: str, external_id: str,
                        attributes: dict[str, Any] | None = None) -> SheetSource:
    """Where `sheet` came from (the sheet counterpart of an entry's source), kept up to
    date: attached to `sheet`, seen now, with `attributes` when given."""
    row = db.session.scalar(select(SheetSource).where(SheetSource.origin == origin,
                                                      SheetSource.external_id == external_id))
    if row is None:
        row = SheetSource(evaluation_id=sheet.id, origin=origin, external_id=external_id,
                          attributes=attributes or {})
        db.session.add(row)
    else:
        row.evaluation_id = sheet.id
        if attributes is not None:
            row.attributes = attributes
    row.last_seen_at = datetime.now(UTC)
    db.session.flush()
    return row
