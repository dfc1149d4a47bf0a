"""Interface words of the editors' pages: fields, roles, moderation, revisions, proposals."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

FIELD_LABELS = {
    "name": _l("Name"),
    "kind": _l("Kind"),
    "slug": _l("Address of the page (slug)"),
    "summary": _l("Summary"),
    "description": _l("Description"),
    "street": _l("Street"),
    "postcode": _l("Postcode"),
    "city": _l("City"),
    "country": _l("Country"),
    "lon": _l("Longitude"),
    "lat": _l("Latitude"),
    "website": _l("Website"),
    "email": _l("Email"),
    "phone": _l("Phone"),
    "opening_hours": _l("Opening hours"),
    "licence": _l("Licence"),
    "status": _l("Status"),
    "founded": _l("Founded (year)"),
    "moderation": _l("Moderation"),
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
RELATION_LABELS = {
    "hosted_by": _l("is hosted by"),
    "part_of": _l("is part of"),
    "uses": _l("uses"),
    "partner_of": _l("is a partner of"),
    "inspired_by": _l("is inspired by"),
}
