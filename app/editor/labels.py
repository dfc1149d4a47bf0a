"""Interface words of the editors' pages: fields, roles, moderation, revisions, proposals."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from .. import entry_fields

# The registry's labels (app/entry_fields.py), then the other parts of entries and sheets.
FIELD_LABELS = {
    **entry_fields.labels(),
    "lon": _l("Longitude"),
    "lat": _l("Latitude"),
    "tags": _l("Tags"),
    "relations": _l("Relations"),
    "deleted_at": _l("Deleted"),
    # evaluation sheets
    "title": _l("Title"),
    "held_on": _l("Date"),
    "authors": _l("Authors"),
    "state": _l("State"),
    "answers": _l("Answers"),
    "level": _l("Level"),
    "strengths": _l("Strengths"),
    "limits": _l("Limits"),
    "stakes": _l("Stakes"),
}

ROLE_LABELS = {"admin": _l("administrator"), "editor": _l("editor"),
               "contributor": _l("contributor")}
MODERATION_LABELS = {"published": _l("Published"), "pending": _l("Pending"),
                     "rejected": _l("Rejected")}
SHEET_STATE_LABELS = {"draft": _l("Draft"), "published": _l("Published")}
ACTION_LABELS = {"create": _l("created"), "update": _l("edited"), "delete": _l("deleted"),
                 "restore": _l("restored"), "revert": _l("reverted")}
PROPOSAL_STATE_LABELS = {"pending": _l("Waiting for review"), "accepted": _l("Accepted"),
                         "rejected": _l("Rejected")}
PROPOSAL_ACTION_LABELS = {"create": _l("New entry"), "update": _l("Edit")}
# What a citizen may report about an entry (app.models.report.REPORT_REASONS).
REPORT_REASON_LABELS = {"closed": _l("It has closed"), "moved": _l("It has moved"),
                        "wrong": _l("Some information is wrong"),
                        "duplicate": _l("It is a duplicate of another entry")}
RELATION_LABELS = {
    "hosted_by": _l("is hosted by"),
    "part_of": _l("is part of"),
    "uses": _l("uses"),
    "partner_of": _l("is a partner of"),
    "inspired_by": _l("is inspired by"),
}
