"""The editors' pages: entries, evaluation sheets, history, trash, proposals, accounts.

Every write goes through app.services; every write route is guarded by
`role_required` (server-side) and by the CSRF token of its form.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask_login import current_user

from ..auth import forbidden, private_pages
from ..auth.roles import has_role
from ..http.errors import gone, not_found
from ..http.locale import fresh_locale, page_headers
from ..services.policy import can_edit_entry
from .access import viewer
from .forms import entry_form_layout
from .labels import (
    ACTION_LABELS,
    FIELD_LABELS,
    MODERATION_LABELS,
    PROPOSAL_ACTION_LABELS,
    PROPOSAL_STATE_LABELS,
    RELATION_LABELS,
    ROLE_LABELS,
    SHEET_STATE_LABELS,
    revision_comment,
)

bp = Blueprint("editor", __name__)


@bp.app_context_processor
def editor_helpers() -> dict[str, Any]:
    return {
        "role_labels": ROLE_LABELS,
        "field_labels": FIELD_LABELS,
        "moderation_labels": MODERATION_LABELS,
        "sheet_state_labels": SHEET_STATE_LABELS,
        "action_labels": ACTION_LABELS,
        "proposal_state_labels": PROPOSAL_STATE_LABELS,
        "proposal_action_labels": PROPOSAL_ACTION_LABELS,
        "relation_labels": RELATION_LABELS,
        "entry_form_layout": entry_form_layout,
        "revision_comment": revision_comment,
        "can": lambda role: has_role(current_user, role),
        # Links to an entry's form are shown where the form opens (app.services.policy).
        "may_edit": lambda entry: can_edit_entry(viewer(), entry),
    }


bp.before_request(fresh_locale)
bp.after_request(page_headers)
bp.after_request(private_pages)
bp.register_error_handler(403, forbidden)
bp.register_error_handler(404, not_found)
bp.register_error_handler(410, gone)

from . import (  # noqa: E402,F401
    accounts,
    contributions,
    entries,
    geocode,
    history,
    jobs,
    keys,
    links,
    live,
    proposals,
    report_form,
    reports,
    sheet_lists,
    sheets,
    sources,
    suggest,
    tags,
    twins,
    users,
    webhooks,
)
