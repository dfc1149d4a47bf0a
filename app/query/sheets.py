"""Which evaluation sheets the public sees, and in which order: defined once for every reader."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, Select, select

from ..models import Evaluation


def published_sheet_conditions() -> list[ColumnElement[bool]]:
    """A sheet the public may read: published and not in the trash."""
    return [Evaluation.state == "published", Evaluation.deleted_at.is_(None)]


def newest_first() -> list[Any]:
    """Sheets by meeting date, newest first; a total order (ties by creation, then id)."""
    return [Evaluation.held_on.desc(), Evaluation.created_at.desc(), Evaluation.id]


def sheets_of(entry_id: uuid.UUID, *, drafts: bool = False) -> Select[tuple[Evaluation]]:
    """The sheets of one entry, newest first; drafts only for editors."""
    conditions = ([Evaluation.deleted_at.is_(None)] if drafts
                  else published_sheet_conditions())
    return (select(Evaluation).where(Evaluation.entry_id == entry_id, *conditions)
            .order_by(*newest_first()))
