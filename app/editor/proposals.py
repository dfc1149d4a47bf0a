"""The moderation queue: editors accept or reject contributors' proposals, with a comment."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..auth.roles import role_required
from ..extensions import db
from ..http.locale import locale_code
from ..mail.notes import tell_author
from ..models import Proposal
from ..services import proposals as service
from ..services.errors import ConflictError, WriteValidationError
from ..services.policy import can_edit_proposal, can_review_proposal, can_view_proposal
from ..services.twin_rule import likely_twins
from . import bp
from .access import viewer
from .diff import Describer
from .entries import me
from .labels import FIELD_LABELS
from .messages import field_errors
from .twins import twins_json


def _proposal(proposal_id: int) -> Proposal:
    proposal = db.session.get(Proposal, proposal_id)
    if proposal is None:
        abort(404)
    return proposal


@bp.get("/editor/proposals")
@role_required("editor")
def proposals() -> str:
    return render_template("editor/proposals.html", proposals=service.pending_proposals())


def render_review(proposal: Proposal, *, errors: dict[str, list[str]] | None = None,
                  status: int = 200) -> tuple[str, int]:
    seen = service.review(proposal) if proposal.state == "pending" else None
    rows = []
    if seen is not None:
        describer = Describer([seen.base, seen.current, seen.proposed], locale_code(),
                              me())
        for key in seen.changed:
            rows.append({
                "key": key, "label": FIELD_LABELS.get(key, key),
                "base": describer.value(key, seen.base.get(key)),
                "current": describer.value(key, seen.current.get(key)),
                "proposed": describer.value(key, seen.proposed.get(key)),
                "moved": seen.current.get(key) != seen.base.get(key),
                "conflict": key in seen.conflicting,
            })
    user = viewer()
    return render_template("editor/proposal.html", proposal=proposal, review=seen, rows=rows,
                           errors=errors or {},
                           may_review=can_review_proposal(user, proposal),
                           may_edit_proposal=can_edit_proposal(user, proposal),
                           twins=proposal_twins(proposal)), status


def proposal_twins(proposal: Proposal) -> list[dict]:
    """Published entries a pending new place may duplicate (the importers' twin rule)."""
    entry = proposal.entry
    if proposal.state != "pending" or proposal.action != "create":
        return []
    lon, lat = entry.lonlat or (None, None)
    return twins_json(likely_twins(entry.name, lon, lat, entry.website, siret=entry.siret,
                                   exclude=entry.id))


@bp.get("/editor/proposals/<int:proposal_id>")
@role_required("contributor")
def proposal(proposal_id: int) -> tuple[str, int]:
    """The review page for editors; for its author, what they sent and what became of it."""
    proposal = _proposal(proposal_id)
    if not can_view_proposal(viewer(), proposal):
        abort(403)
    return render_review(proposal)


@bp.post("/editor/proposals/<int:proposal_id>/accept")
@role_required("editor")
def accept(proposal_id: int) -> Response | tuple[str, int]:
    proposal = _proposal(proposal_id)
    raw = request.form.get("version", "")
    if not raw.isdigit():
        abort(400)
    comment = request.form.get("review_comment", "").strip() or None
    try:
        service.accept(proposal, reviewer=me(), expected_version=int(raw), comment=comment)
    except ConflictError:
        db.session.rollback()
        flash(_("The entry changed while you were reviewing: look at the proposal again."),
              "error")
        return redirect(url_for("editor.proposal", proposal_id=proposal.id), 303)
    except WriteValidationError as exc:
        db.session.rollback()
        return render_review(proposal, errors=field_errors(exc.messages), status=422)
    flash(_("Proposal accepted: “%(name)s” is published.", name=proposal.entry.name))
    tell_author(proposal)
    return redirect(url_for("editor.proposals"), 303)


@bp.post("/editor/proposals/<int:proposal_id>/reject")
@role_required("editor")
def reject(proposal_id: int) -> Response | tuple[str, int]:
    proposal = _proposal(proposal_id)
    try:
        service.reject(proposal, reviewer=me(),
                       comment=request.form.get("review_comment", ""))
    except WriteValidationError as exc:
        db.session.rollback()
        return render_review(proposal, errors=field_errors(exc.messages), status=422)
    flash(_("Proposal rejected; the contributor will see your comment."))
    tell_author(proposal)
    return redirect(url_for("editor.proposals"), 303)
