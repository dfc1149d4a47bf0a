"""Creating, editing and deleting entries; the dashboard; search-as-you-type; previews.

Editors and admins write through `save_entry`; a contributor's creation or edit
becomes a proposal (app.services.proposals). The form carries the version it was
opened at: saving over a newer version shows both side by side, the input kept.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..auth.roles import publishes, role_required
from ..extensions import db
from ..formats.markdown import render_markdown
from ..formats.national import readiness
from ..http.locale import locale_code
from ..mail.notes import tell_author
from ..models import Entry, Evaluation, Proposal, Tag, User
from ..models.vocab import (
    ENTRY_KINDS,
    ENTRY_STATUSES,
    MODERATION_STATES,
    RELATION_TYPES,
    TAG_GROUPS,
)
from ..query import EntryFilter
from ..query.entries import entry_select
from ..services.entries import CONTENT_KEYS, plan_entry, save_entry, snapshot
from ..services.errors import ConflictError, WriteValidationError
from ..services.policy import (
    can_delete_entry,
    can_edit_entry,
    can_view_entry,
    refusal_status,
    visible_entries_clause,
    visible_revisions,
    visible_sheets_clause,
    writes_directly,
)
from ..services.proposals import (
    close,
    pending_count,
    pending_for,
    proposals_of,
    propose_edit,
    propose_entry,
    review,
    write_directly,
)
from ..services.revisions import Author, revision_at, revisions_of
from ..web.filtering import folded
from . import bp
from .access import entry_or_404, refuse_entry
from .diff import Describer
from .forms import EntryForm, entry_form_from_entry, read_entry_form
from .labels import FIELD_LABELS
from .messages import field_errors
from .twins import twin_message, twins_of

SEARCH_LIMIT = 10
DASHBOARD_LIMIT = 40
# What a new entry's form starts with.
NEW_ENTRY = {"kind": "third_place", "status": "active", "moderation": "published",
             "country": "FR"}


def me() -> User:
    """The logged-in user itself (not Flask-Login's proxy), for the services."""
    return current_user._get_current_object()


def author() -> Author:
    return Author(user=me())


def location_config() -> dict[str, Any]:
    """What editor-map.js needs (passed as a data attribute: no inline script)."""
    config = current_app.config
    lat, lon = config["MAP_CENTER"]
    return {
        "tiles": {"url": config["TILE_URL"], "attribution": config["TILE_ATTRIBUTION"]},
        "center": [lat, lon], "zoom": config["MAP_ZOOM"],
        "strings": {"marker": _("Position of the entry: drag it, or click on the map"),
                    "tilesDown": _("The background map cannot be reached; you can still "
                                   "place the marker or type the coordinates."),
                    **geocode_strings()},
    }


def entry_location_config() -> dict[str, Any]:
    """location_config() plus the address look-ups of the entry form (app/editor/geocode.py)."""
    return {**location_config(), "geocode": url_for("editor.geocode_address"),
            "reverse": url_for("editor.reverse_geocode")}


def geocode_strings() -> dict[str, str]:
    return {"found": _("Found: %(label)s (score %(score)s). Drag the marker to adjust.",
                       label="{label}", score="{score}"),
            "lowScore": _("Uncertain: the best match is %(label)s (score %(score)s). Check "
                          "the marker.", label="{label}", score="{score}"),
            "notFound": _("No position was found for this address."),
            "unavailable": _("The address service cannot be reached; place the marker by "
                             "hand."),
            "needAddress": _("Type a street, postcode or city first.")}


def tag_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    locale = locale_code()
    tags = db.session.scalars(select(Tag)).all()
    order = {g: i for i, g in enumerate(TAG_GROUPS)}
    groups = []
    for group in sorted({t.group for t in tags}, key=lambda g: (order.get(g, 99), g)):
        options = sorted(((t.slug, t.label(locale)) for t in tags if t.group == group),
                         key=lambda o: folded(o[1]))
        groups.append((group, options))
    return groups


def render_entry_form(entry: Entry | None, form: EntryForm, *, status: int = 200,
                      conflict: dict[str, Any] | None = None,
                      proposal: Proposal | None = None,
                      own_proposal: Proposal | None = None) -> tuple[str, int]:
    sheets = []
    if entry is not None:
        sheets = db.session.scalars(
            select(Evaluation).where(Evaluation.entry_id == entry.id,
                                     Evaluation.deleted_at.is_(None),
                                     visible_sheets_clause(me()))
            .order_by(Evaluation.held_on.desc())).all()
    return render_template(
        "editor/entry_form.html", entry=entry, form=form, conflict=conflict,
        proposal=proposal, own_proposal=own_proposal, sheets=sheets,
        national=national_readiness(entry),
        editor=publishes(current_user), kinds=ENTRY_KINDS, statuses=ENTRY_STATUSES,
        moderation_states=MODERATION_STATES, relation_types=RELATION_TYPES,
        tag_groups=tag_groups(), location_config=entry_location_config()), status


def national_readiness(entry: Entry | None) -> list[dict[str, Any]]:
    """Which national databases the stored entry is ready for, and what each one lacks
    (app.formats.national), named by the form's labels."""
    if entry is None:
        return []
    out = []
    for item in readiness(snapshot(entry)):
        missing = [f"{m.field} ({' / '.join(str(FIELD_LABELS[name]) for name in m.ours)})"
                   for m in item.missing]
        out.append({"title": item.title, "ready": item.ready, "missing": missing})
    return out


# -- dashboard ----------------------------------------------------------------------------------

@bp.get("/editor/")
@role_required("contributor")
def dashboard() -> str:
    q = request.args.get("q", "").strip()[:200]
    f = EntryFilter(text=q or None, moderation=MODERATION_STATES)
    stmt = entry_select(f, "relevance" if q else "-updated").where(
        visible_entries_clause(me())).limit(DASHBOARD_LIMIT)
    entries = db.session.scalars(stmt).all()
    return render_template(
        "editor/dashboard.html", q=q, entries=entries,
        pending=pending_count() if publishes(current_user) else None,
        mine=proposals_of(current_user))


@bp.get("/editor/entries/search.json")
@role_required("contributor")
def search_json() -> dict[str, Any]:
    """Entries whose name or text matches, for the relation fields (search as you type)."""
    q = request.args.get("q", "").strip()[:200]
    if len(q) < 2:
        return {"items": []}
    stmt = entry_select(EntryFilter(text=q), "relevance").where(
        visible_entries_clause(me())).limit(SEARCH_LIMIT)
    found = db.session.scalars(stmt).all()
    return {"items": [{"slug": e.slug, "name": e.name, "kind": e.kind, "city": e.city}
                      for e in found]}


@bp.post("/editor/preview")
@role_required("contributor")
def preview() -> dict[str, str]:
    """Markdown as the public pages will show it (sanitised), for the sheets' preview."""
    text = request.form.get("text", "")
    return {"html": str(render_markdown(text))}


# -- create -------------------------------------------------------------------------------------

@bp.route("/editor/entries/new", methods=["GET", "POST"])
@role_required("contributor")
def new_entry() -> Response | tuple[str, int]:
    editor = publishes(current_user)
    if request.method == "GET":
        return render_entry_form(None, EntryForm(values=dict(NEW_ENTRY)))
    data, form = read_entry_form(request.form, editor=editor)
    comment = form.comment.strip() or None
    twins = twins_of(request.form)  # before the entry exists, which would be its own twin
    try:
        if editor:
            entry = save_entry(None, data, author=author(), expected_version=None,
                               comment=comment).entry
            flash(_("“%(name)s” is created and published.", name=entry.name)
                  if entry.moderation == "published"
                  else _("“%(name)s” is created.", name=entry.name))
            for twin in twins:
                flash(twin_message(twin), "warning")
            return redirect(url_for("editor.edit_entry", entry_id=entry.id), 303)
        proposal = propose_entry(data, author=author(), comment=comment, locale=locale_code())
        flash(_("Thank you! “%(name)s” waits for an editor's review before it is published.",
                name=proposal.entry.name))
        for twin in twins:  # a warning, not a refusal: the editors decide
            check = _("The editors will check it is another place.")
            flash(f"{twin_message(twin)} {check}", "warning")
        return redirect(url_for("editor.dashboard"), 303)
    except WriteValidationError as exc:
        db.session.rollback()
        form.errors = field_errors(exc.messages)
        return render_entry_form(None, form, status=422)


# -- edit ---------------------------------------------------------------------------------------

def _reviewed_proposal(entry: Entry) -> Proposal | None:
    """The proposal an editor is publishing through the form (?proposal=<id>)."""
    raw = request.values.get("proposal", "")
    if not raw:
        return None
    proposal = db.session.get(Proposal, int(raw)) if raw.isdigit() else None
    if proposal is None or proposal.entry_id != entry.id or proposal.state != "pending":
        abort(404)
    return proposal


@bp.route("/editor/entries/<uuid:entry_id>/edit", methods=["GET", "POST"])
@role_required("contributor")
def edit_entry(entry_id: uuid.UUID) -> Response | tuple[str, int]:
    entry = entry_or_404(entry_id)
    user = me()
    editor = publishes(user)
    if entry.deleted_at is not None and can_view_entry(user, entry):
        return render_template("editor/deleted.html", entry=entry), 410
    if not can_edit_entry(user, entry):
        refuse_entry(entry)
    direct = writes_directly(user, entry)
    proposal = _reviewed_proposal(entry) if editor else None
    own_proposal = pending_for(entry, current_user) if not editor else None

    if request.method == "GET":
        if proposal is not None:
            state = review(proposal).proposed
            state["moderation"] = "published"
        elif own_proposal is not None:
            state = review(own_proposal).proposed
        else:
            state = snapshot(entry)
        form = entry_form_from_entry(entry, state, user)
        return render_entry_form(entry, form, proposal=proposal, own_proposal=own_proposal)

    data, form = read_entry_form(request.form, editor=editor)
    if form.version is None:
        abort(400)
    comment = form.comment.strip() or None
    try:
        if direct:
            if proposal is not None:  # closed first: write_directly settles the others
                close(proposal, "accepted", reviewer=me(), comment=comment, commit=False)
            result, settled = write_directly(entry, data, author=author(),
                                             expected_version=form.version, comment=comment,
                                             commit=False)
            db.session.commit()
            for decided in ([proposal] if proposal is not None else []) + settled:
                tell_author(decided)
            if result.action == "unchanged":
                flash(_("Nothing changed: there was nothing to save."))
            else:
                flash(_("Saved (version %(version)s).", version=entry.version))
            return redirect(url_for("editor.edit_entry", entry_id=entry.id), 303)
        if entry.version != form.version:
            raise ConflictError("entry", entry.id, form.version, entry.version)
        saved = propose_edit(entry, data, author=author(), base_version=form.version,
                             comment=comment, locale=locale_code())
        if saved is None:
            flash(_("Nothing changed: there was nothing to propose."))
        else:
            flash(_("Thank you! Your changes wait for an editor's review; the public page "
                    "shows the published version until then."))
        return redirect(url_for("editor.edit_entry", entry_id=entry.id), 303)
    except ConflictError:
        db.session.rollback()
        return conflict_view(entry, data, form, proposal=proposal, own_proposal=own_proposal)
    except WriteValidationError as exc:
        db.session.rollback()
        form.errors = field_errors(exc.messages)
        return render_entry_form(entry, form, status=422, proposal=proposal,
                                 own_proposal=own_proposal)


def conflict_view(entry: Entry, data: dict[str, Any], form: EntryForm, *,
                  proposal: Proposal | None, own_proposal: Proposal | None) -> tuple[str, int]:
    """Someone saved since this form was opened: their version beside the editor's input.

    The form keeps what was typed; its version becomes the current one, so saving
    again (after merging) is a deliberate choice, made having seen the other version.
    """
    current = snapshot(entry)
    opened_at = form.version
    base_revision = revision_at("entry", entry.id, opened_at) if opened_at else None
    base = base_revision.snapshot if base_revision is not None else None
    try:
        mine: dict[str, Any] | None = plan_entry(entry, data, partial=True)
    except WriteValidationError as exc:
        mine = None
        form.errors = field_errors(exc.messages)
    describer = Describer([current, mine, base], locale_code(), me())
    rows = []
    for key in CONTENT_KEYS:
        if base is not None and current[key] == base.get(key):
            continue  # not changed by the others
        theirs = current[key]
        yours = mine[key] if mine is not None else None
        if mine is not None and yours == theirs:
            continue
        rows.append({
            "key": key,
            "theirs": describer.value(key, theirs),
            "yours": describer.value(key, yours) if mine is not None
            else form.values.get(key, ""),
            "raw_theirs": "" if theirs is None else str(theirs)
            if key not in ("tags", "relations") else None,
            "both": mine is not None and base is not None and yours != base.get(key),
        })
    since = [r for r in visible_revisions(me(), revisions_of("entry", entry.id), entry)
             if opened_at is None or r.version > opened_at]
    form.version = entry.version
    conflict = {"rows": rows, "revisions": since, "opened_at": opened_at}
    return render_entry_form(entry, form, status=409, conflict=conflict, proposal=proposal,
                             own_proposal=own_proposal)


# -- delete -------------------------------------------------------------------------------------

@bp.post("/editor/entries/<uuid:entry_id>/delete")
@role_required("editor")
def delete_entry_view(entry_id: uuid.UUID) -> Response:
    from ..services.entries import delete_entry

    entry = entry_or_404(entry_id)
    if not can_delete_entry(me(), entry):
        abort(refusal_status(me(), entry))
    version = request.form.get("version", "")
    if not version.isdigit():
        abort(400)
    try:
        delete_entry(entry, expected_version=int(version), author=author(),
                     comment=request.form.get("comment", "").strip() or None)
    except ConflictError:
        db.session.rollback()
        flash(_("This entry changed since you opened it: look at the new version before "
                "deleting it."), "error")
        return redirect(url_for("editor.edit_entry", entry_id=entry.id), 303)
    flash(_("“%(name)s” is deleted. An administrator can restore it from the trash.",
            name=entry.name))
    return redirect(url_for("editor.dashboard"), 303)
