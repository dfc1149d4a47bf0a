"""The editors' pages ask app.services.policy, and answer its refusals the same way.

Someone who may not see an object gets a 403 (or, for a deleted entry that was
public, the 410 every mirror gets), never a page with a piece of it.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import abort
from flask_login import current_user

from ..extensions import db
from ..models import Entry, Evaluation
from ..services.policy import can_view_entry, can_view_sheet, shows_as_gone


def viewer() -> Any:
    """The logged-in user (not Flask-Login's proxy), or None: what the policy is asked about."""
    user = current_user._get_current_object()
    return user if getattr(user, "is_authenticated", False) else None


def entry_or_404(entry_id: uuid.UUID) -> Entry:
    entry = db.session.get(Entry, entry_id)
    if entry is None:
        abort(404)
    return entry


def refuse_entry(entry: Entry) -> None:
    """Abort as the policy says for an entry `viewer()` may not see."""
    abort(410 if shows_as_gone(viewer(), entry) else 403)


def viewable_entry(entry_id: uuid.UUID) -> Entry:
    """The entry, if the user may see it (its history, its sheets list)."""
    entry = entry_or_404(entry_id)
    if not can_view_entry(viewer(), entry):
        refuse_entry(entry)
    return entry


def viewable_sheet(sheet_id: uuid.UUID) -> Evaluation:
    sheet = db.session.get(Evaluation, sheet_id)
    if sheet is None:
        abort(404)
    if not can_view_sheet(viewer(), sheet):
        abort(403)
    return sheet
