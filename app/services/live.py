"""Live co-editing of an evaluation sheet: the fields being typed, shared through the
database, and who has the sheet open.

A page sends each changed field with the value it started from (`base`); the server merges
it into the field's shared value (app/services/textmerge.merge3 for texts, the latest
choice for levels, dates and states), so two people typing in one field both keep their
words. Every stored change takes the next number of `sheet_live_seq` while the sheet's row
is locked, so per sheet the numbers follow the commits and a page that asks for "changes
after N" misses none. Only a save writes the sheet (with its revision); a save writes its
changes through to the live layer, so open pages see what a page without JavaScript saved.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from ..extensions import db
from ..models import Evaluation, SheetLiveField, SheetPresence, User
from .evaluations import ANSWER_FIELDS, SHEET_FIELDS, evaluation_keys, snapshot
from .textmerge import merge3

PRESENCE_SECONDS = 10
MAX_VALUE = 50_000
TEXT_PARTS = ("strengths", "limits", "stakes")
TEXT_FIELDS = ("title", "authors")


@dataclass(frozen=True)
class LiveValue:
    field: str
    value: str
    seq: int
    user_id: int | None = None


def normalise(value: Any) -> str:
    """A field as a form shows it: browsers post CRLF, the sheet stores LF and trims."""
    return "" if value is None else str(value).replace("\r\n", "\n").strip()


def field_names() -> list[str]:
    """The names of a sheet form's fields, as app/editor/forms.read_sheet_form reads them."""
    return [*SHEET_FIELDS, *(f"{key.slug}-{part}" for key in evaluation_keys()
                             for part in ANSWER_FIELDS)]


def flat(sheet_snapshot: Mapping[str, Any]) -> dict[str, str]:
    """A snapshot (app/services/evaluations.snapshot) as form field → string."""
    out = {name: normalise(sheet_snapshot.get(name)) for name in SHEET_FIELDS}
    answers = sheet_snapshot.get("answers") or {}
    for key in evaluation_keys():
        answer = answers.get(key.slug) or {}
        for part in ANSWER_FIELDS:
            out[f"{key.slug}-{part}"] = normalise(answer.get(part))
    return out


def is_text(field: str) -> bool:
    return field in TEXT_FIELDS or field.rsplit("-", 1)[-1] in TEXT_PARTS


def merge_field(field: str, base: str, current: str, mine: str) -> str:
    """`mine` (typed from `base`) onto `current`: texts merged, choices the latest."""
    base, current, mine = normalise(base), normalise(current), normalise(mine)
    return merge3(base, current, mine) if is_text(field) else mine


def _lock(sheet: Evaluation) -> None:
    db.session.execute(select(Evaluation.id).where(Evaluation.id == sheet.id)
                       .with_for_update())


def apply_changes(sheet: Evaluation, changes: Iterable[tuple[str, str, str]], *,
                  user_id: int | None, fallback: Mapping[str, str] | None = None
                  ) -> list[LiveValue]:
    """Merge each (field, base, value) into the shared value; the caller commits.

    Without a shared value yet, a field's current value is `fallback`'s (default: the
    saved sheet's)."""
    _lock(sheet)
    saved = fallback if fallback is not None else flat(snapshot(sheet))
    out = []
    for field, base, value in changes:
        row = db.session.get(SheetLiveField, (sheet.id, field))
        current = row.value if row is not None else saved.get(field, "")
        merged = merge_field(field, base, current, value)
        if row is not None and row.value == merged:
            out.append(LiveValue(field, merged, row.seq, row.user_id))
            continue
        if row is None and merged == current:
            out.append(LiveValue(field, merged, 0, None))
            continue
        seq = db.session.scalar(text("SELECT nextval('sheet_live_seq')"))
        if row is None:
            row = SheetLiveField(evaluation_id=sheet.id, field=field)
            db.session.add(row)
        row.value, row.seq, row.user_id = merged, seq, user_id
        row.updated_at = datetime.now(UTC)
        out.append(LiveValue(field, merged, seq, user_id))
    db.session.flush()
    return out


def changes_since(sheet_id: uuid.UUID, since: int) -> list[LiveValue]:
    rows = db.session.scalars(select(SheetLiveField).where(
        SheetLiveField.evaluation_id == sheet_id, SheetLiveField.seq > since)
        .order_by(SheetLiveField.seq))
    return [LiveValue(r.field, r.value, r.seq, r.user_id) for r in rows]


def after_save(sheet: Evaluation, before: Mapping[str, str], after: Mapping[str, str], *,
               user_id: int | None) -> None:
    """What a save changed goes to the open pages, merged into what they are typing."""
    changed = [(name, before.get(name, ""), value) for name, value in after.items()
               if value != before.get(name, "")]
    if changed:
        apply_changes(sheet, changed, user_id=user_id, fallback=before)


def touch(sheet_id: uuid.UUID, client_id: uuid.UUID, user_id: int, field: str | None) -> None:
    """This page is open (and its cursor in `field`); the caller commits."""
    now = datetime.now(UTC)
    inserted = db.session.scalar(insert(SheetPresence).values(
        evaluation_id=sheet_id, client_id=client_id, user_id=user_id, field=field,
        seen_at=now).on_conflict_do_update(
        index_elements=["evaluation_id", "client_id"],
        set_={"user_id": user_id, "field": field, "seen_at": now})
        .returning(text("xmax = 0")))
    if inserted:  # a page opens: the pages closed long ago go
        db.session.execute(SheetPresence.__table__.delete().where(
            SheetPresence.evaluation_id == sheet_id,
            SheetPresence.seen_at < now - timedelta(minutes=10)))


def present(sheet_id: uuid.UUID, user_id: int) -> list[dict[str, Any]]:
    """The other people with the sheet open (not the user's own other tabs): who, and in
    which field."""
    since = datetime.now(UTC) - timedelta(seconds=PRESENCE_SECONDS)
    rows = db.session.execute(
        select(SheetPresence.client_id, SheetPresence.field, User)
        .join(User, User.id == SheetPresence.user_id)
        .where(SheetPresence.evaluation_id == sheet_id, SheetPresence.user_id != user_id,
               SheetPresence.seen_at >= since)
        .order_by(SheetPresence.seen_at))
    return [{"name": user.display_name, "user": user.id, "field": field}
            for _client, field, user in rows]
