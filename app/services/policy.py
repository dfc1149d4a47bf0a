"""Who may see and change what: the one access policy of pages, API and lists.

Each rule is written twice, side by side, and nowhere else: as a predicate on one
object (`can_view_entry(user, entry)`) for the page that shows it, and as a SQL
condition (`visible_entries_clause(user)`) for the lists and counts that hold it, so
that a list never shows what its pages refuse. The anonymous case (`user` None or
not logged in) is what the public may see.

In words: the public sees published entries, and published sheets of those. A
contributor sees that too, plus their own proposed entries (pending or rejected) and
their own proposals; they may propose changes to published entries and edit their
own entries while they wait, but not their address (slug) nor moderation state.
Editors and admins see and edit everything, deleted things included (restoring from
the trash is the admins'). A revision is seen by
whoever would see the object as that revision left it: the draft versions of a
sheet published since, or the pending version of an accepted suggestion (with its
suggester's message), stay the editors'.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true

from .. import entry_fields
from ..extensions import db
from ..models import Entry, Evaluation, Proposal, Revision

# -- who -------------------------------------------------------------------------------------

ROLE_RANK = {"contributor": 1, "editor": 2, "admin": 3}


def has_role(user: Any, minimum: str) -> bool:
    """True when `user` is logged in, active, and at least `minimum`."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_active) and ROLE_RANK.get(user.role, 0) >= ROLE_RANK[minimum]


def is_editor(user: Any) -> bool:
    """Editors and admins: they see and moderate everything."""
    return has_role(user, "editor")


def is_admin(user: Any) -> bool:
    return has_role(user, "admin")


def _member(user: Any) -> bool:
    """A logged-in, active account of any role."""
    return has_role(user, "contributor")


# -- entries ---------------------------------------------------------------------------------


def public_entry(entry: Entry) -> bool:
    """What everyone sees: published and not deleted."""
    return entry.moderation == "published" and entry.deleted_at is None


def owns_entry(user: Any, entry: Entry) -> bool:
    """`user` proposed this entry's creation (its contributor; a suggestion has none)."""
    if not _member(user):
        return False
    return bool(db.session.scalar(select(exists().where(
        Proposal.entry_id == entry.id, Proposal.action == "create",
        Proposal.author_id == user.id))))


def can_view_entry(user: Any, entry: Entry) -> bool:
    """Its content, history and sheets list: public, one's own proposal, or an editor."""
    if is_editor(user):
        return True
    if entry.deleted_at is not None:
        return False
    return entry.moderation == "published" or owns_entry(user, entry)


def shows_as_gone(user: Any, entry: Entry) -> bool:
    """A deleted entry whose tombstone `user` may learn of (410 rather than 404): one that
    was public, as the change feed tells every mirror."""
    return entry.deleted_at is not None and entry.moderation == "published" \
        and not can_view_entry(user, entry)


def can_edit_entry(user: Any, entry: Entry) -> bool:
    """May open the entry's form and send it: editors; a contributor for a published entry
    (it becomes a proposal) or for their own entry while it waits."""
    if entry.deleted_at is not None or not _member(user):
        return False
    if is_editor(user) or entry.moderation == "published":
        return True
    return entry.moderation == "pending" and owns_pending_creation(user, entry)


def owns_pending_creation(user: Any, entry: Entry) -> bool:
    """`user`'s own entry, still waiting for review: they may change it directly."""
    if not _member(user):
        return False
    return bool(db.session.scalar(select(exists().where(
        Proposal.entry_id == entry.id, Proposal.action == "create",
        Proposal.state == "pending", Proposal.author_id == user.id))))


def writes_directly(user: Any, entry: Entry | None) -> bool:
    """Saving changes the entry itself (editors; a contributor's own waiting entry) rather
    than storing a proposal."""
    if is_editor(user):
        return True
    return entry is not None and entry.moderation == "pending" \
        and owns_pending_creation(user, entry)


# What only editors set (the registry's fields contributors do not write: the page
# address and the moderation state). A contributor's input for them is left out, by the
# forms (which do not show them) and the API alike: their creation waits, pending, at an
# address made from its name.
EDITOR_FIELDS = tuple(f.name for f in entry_fields.FIELDS if "contributor" not in f.writers)


def may_set_field(user: Any, key: str) -> bool:
    return is_editor(user) or key not in EDITOR_FIELDS


def settable_input(user: Any, data: dict[str, Any]) -> dict[str, Any]:
    """`data` without the fields `user` may not set (`may_set_field`)."""
    return {key: value for key, value in data.items() if may_set_field(user, key)}


def can_delete_entry(user: Any, entry: Entry) -> bool:
    return is_editor(user) and entry.deleted_at is None


def refusal_status(user: Any, entry: Entry) -> int:
    """How a refused action on `entry` is answered: 410 when `user` may learn that it was
    deleted (an editor, or anyone for a deleted public entry), else 403."""
    if entry.deleted_at is not None and (is_editor(user) or shows_as_gone(user, entry)):
        return 410
    return 403


def can_restore(user: Any) -> bool:
    """The trash: deleted entries and sheets, and lifting a deletion."""
    return is_admin(user)


def _own_creations(user: Any) -> Any:
    return select(Proposal.entry_id).where(Proposal.action == "create",
                                           Proposal.author_id == user.id)


def visible_entries_clause(user: Any) -> ColumnElement[bool]:
    """`can_view_entry` as a WHERE condition on Entry, for lists and counts."""
    if is_editor(user):
        return true()
    public = Entry.moderation == "published"
    if _member(user):
        return and_(Entry.deleted_at.is_(None), or_(public, Entry.id.in_(_own_creations(user))))
    return and_(Entry.deleted_at.is_(None), public)


# -- evaluation sheets -------------------------------------------------------------------------


def can_view_sheet(user: Any, sheet: Evaluation) -> bool:
    """Editors see every sheet (drafts, deleted); others a published sheet of a public entry."""
    if is_editor(user):
        return True
    return sheet.state == "published" and sheet.deleted_at is None \
        and public_entry(sheet.entry)


def can_edit_sheet(user: Any, sheet: Evaluation | None = None) -> bool:
    """Sheets are written by editors only (a new one when `sheet` is None)."""
    return is_editor(user) and (sheet is None or sheet.deleted_at is None)


def visible_sheets_clause(user: Any) -> ColumnElement[bool]:
    """`can_view_sheet` as a WHERE condition on Evaluation."""
    if is_editor(user):
        return true()
    public_entries = select(Entry.id).where(Entry.moderation == "published",
                                            Entry.deleted_at.is_(None))
    return and_(Evaluation.state == "published", Evaluation.deleted_at.is_(None),
                Evaluation.entry_id.in_(public_entries))


# -- proposals ---------------------------------------------------------------------------------


def can_view_proposal(user: Any, proposal: Proposal) -> bool:
    """The queue and its comments, contacts and messages are the editors'; a contributor
    sees their own proposals and the answers to them."""
    if is_editor(user):
        return True
    return _member(user) and proposal.author_id == user.id


def can_review_proposal(user: Any, proposal: Proposal) -> bool:
    return is_editor(user)


def can_edit_proposal(user: Any, proposal: Proposal) -> bool:
    """Its author may change a proposal while it waits, through the entry's form (their
    own waiting entry directly, a published entry's form starting from their proposed
    edit); nobody else's. Editors edit any before publishing it."""
    if proposal.state != "pending" or not can_edit_entry(user, proposal.entry):
        return False
    return is_editor(user) or (_member(user) and proposal.author_id == user.id)


def visible_proposals_clause(user: Any) -> ColumnElement[bool]:
    if is_editor(user):
        return true()
    if _member(user):
        return Proposal.author_id == user.id
    return false()


# -- revisions (history, diffs, revert) ------------------------------------------------------


def can_view_revision(user: Any, revision: Revision, subject: Entry | Evaluation) -> bool:
    """A version of `subject`: seen by whoever sees `subject` and would have seen it as this
    version left it (the pending or draft versions stay with editors and the owner)."""
    return bool(visible_revisions(user, [revision], subject))


def visible_revisions(user: Any, revisions: list[Revision],
                      subject: Entry | Evaluation) -> list[Revision]:
    """The versions of one subject that `user` may read, in the given order."""
    if is_editor(user):
        return list(revisions)
    if isinstance(subject, Entry):
        if not can_view_entry(user, subject):
            return []
        if owns_entry(user, subject):
            return list(revisions)
        public = "moderation", "published"
    else:
        if not can_view_sheet(user, subject):
            return []
        public = "state", "published"
    key, value = public
    return [r for r in revisions
            if (r.snapshot or {}).get(key) == value and not (r.snapshot or {}).get("deleted_at")]


def can_revert(user: Any, subject: Entry | Evaluation) -> bool:
    return is_editor(user)


# -- vocabulary (evaluation keys, tags) --------------------------------------------------------


def can_edit_vocabulary(user: Any) -> bool:
    """Adding, renaming, describing, reordering and retiring keys and tags: the assembly's
    editors (each change is a revision)."""
    return is_editor(user)


def can_merge_tags(user: Any) -> bool:
    """Merging removes a tag for good (its entries carried over): administrators."""
    return is_admin(user)
