"""Undoing a link (`flask sync unlink ID`): two rows that were taken for one part again.

The alias is removed; the remote's source (and the baseline a pull kept in it) moves
from the local row to a row of its own, created under the other id from what the
remote said last (the pull's `remote`, or the body a push sent). The local row stays
as it is. The next pull or push then treats the two as different entries or sheets.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import Entry, Evaluation, IdentityLink, SheetSource, Source
from ..services.entries import SourceRef, save_entry
from ..services.evaluations import save_evaluation
from ..services.links import local_entry, record_sheet_source
from ..services.revisions import Author
from . import content as C
from . import sheets as S


def unlink(alias_id: uuid.UUID, *, author: Author) -> tuple[str, uuid.UUID, Any]:
    """Undo the link of `alias_id`; returns the kind of row, the local row's id, and the
    row made for the other side (None when nothing is known of it: the link only is
    removed)."""
    row = db.session.scalar(select(IdentityLink).where(IdentityLink.alias_id == alias_id))
    if row is None:
        raise LookupError(f"No link with the id {alias_id}.")
    kind, local = row.entity_type, row.entity_id
    made = (_part_entry if kind == "entry" else _part_sheet)(row, author)
    db.session.delete(row)
    db.session.commit()
    return kind, local, made


def _part_entry(row: IdentityLink, author: Author) -> Entry | None:
    # The source that came with the other id (a demo alias has none of its own).
    source = db.session.scalar(select(Source).where(
        Source.external_id == str(row.alias_id), Source.entry_id == row.entity_id))
    if source is None:
        return None
    attrs = dict(source.attributes or {})
    db.session.delete(source)
    db.session.flush()
    if "remote" in attrs:
        remote = attrs["remote"]
        relations = [{"type": r["type"], "target": str(t.id)} for r in remote["relations"]
                     if (t := local_entry(r["target"])) is not None]
        data = C.to_input({**remote, "relations": relations})
    elif "body" in attrs:
        data = dict(attrs["body"])
    else:
        return None
    data["slug"] = None  # the local row keeps its address; this one gets its own
    origin = source.origin
    entry = save_entry(None, data, author=author, expected_version=None, commit=False,
                       entry_id=row.alias_id, comment="Unlinked from "
                       f"{row.entity_id}", source=SourceRef(origin, str(row.alias_id))
                       ).entry
    if "remote" in attrs:
        source = db.session.scalar(select(Source).where(
            Source.origin == origin, Source.external_id == str(row.alias_id)))
        source.attributes = {**{k: v for k, v in attrs.items() if k != "linked"},
                             "applied": C.from_entry(entry), "local_version": entry.version}
    return entry


def _part_sheet(row: IdentityLink, author: Author) -> Evaluation | None:
    source = db.session.scalar(select(SheetSource).where(
        SheetSource.external_id == str(row.alias_id),
        SheetSource.evaluation_id == row.entity_id))
    twin = db.session.get(Evaluation, row.entity_id)
    if source is None or twin is None or "remote" not in (source.attributes or {}):
        return None
    attrs = dict(source.attributes)
    sheet = save_evaluation(twin.entry, None, attrs["remote"], author=author,
                            expected_version=None, commit=False, evaluation_id=row.alias_id,
                            comment=f"Unlinked from {row.entity_id}").evaluation
    record_sheet_source(sheet, source.origin, str(row.alias_id), {
        **{k: v for k, v in attrs.items() if k != "linked"},
        "applied": S.from_sheet(sheet), "local_version": sheet.version})
    return sheet
