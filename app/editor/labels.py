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
    # evaluation keys and tags
    "position": _l("Position"),
    "label_fr": _l("Label (French)"),
    "label_en": _l("Label (English)"),
    "question_fr": _l("Guiding question (French)"),
    "question_en": _l("Guiding question (English)"),
    "description_fr": _l("Description (French)"),
    "description_en": _l("Description (English)"),
    "level_definitions": _l("What each level means"),
    "retired_at": _l("Retired"),
    "group": _l("Group"),
    "merged_into": _l("Merged into"),
}

ROLE_LABELS = {"admin": _l("administrator"), "editor": _l("editor"),
               "contributor": _l("contributor")}
MODERATION_LABELS = {"published": _l("Published"), "pending": _l("Pending"),
                     "rejected": _l("Rejected")}
SHEET_STATE_LABELS = {"draft": _l("Draft"), "published": _l("Published")}
ACTION_LABELS = {"create": _l("created"), "update": _l("edited"), "delete": _l("deleted"),
                 "restore": _l("restored"), "revert": _l("reverted"), "retire": _l("retired"),
                 "merge": _l("merged")}
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

# The notes the program writes in revisions and decisions (app.services.revisions.NOTES),
# in the reader's language; a note's `reason` (the person's own words) follows as typed.
NOTE_LABELS = {
    "proposed": _l("Proposed"),
    "proposal_accepted": _l("Proposal %(id)s by %(author)s accepted"),
    "proposal_rejected": _l("Proposal %(id)s rejected"),
    "withdrawn": _l("Withdrawn by its author"),
    "revert": _l("Back to version %(version)s"),
    "reordered": _l("Order changed"),
    "tag_merged": _l("Tag %(source)s merged into %(target)s"),
}
REASON_LABEL = _l("%(note)s: %(reason)s")


def revision_comment(comment: str | None) -> str:
    """A revision's comment as the reader should see it: a note of the program in their
    language, a person's comment as they typed it."""
    from ..services.revisions import read_note

    found = read_note(comment)
    if found is None:
        return comment or ""
    code, params = found
    reason = params.pop("reason", None)
    text = str(NOTE_LABELS[code]) % params if params else str(NOTE_LABELS[code])
    return str(REASON_LABEL) % {"note": text, "reason": reason} if reason else text
