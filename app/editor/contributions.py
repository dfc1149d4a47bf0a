"""A contributor's own work: every proposal and suggestion they sent, what became of it,
the editor's reason, and a way back into the ones still waiting.

What each row offers follows app.services.policy: the proposal's page
(`can_view_proposal`) and its form (`can_edit_proposal`).
"""

from __future__ import annotations

from flask import render_template

from ..auth.roles import role_required
from ..services.policy import can_edit_proposal
from ..services.proposals import proposals_of
from . import bp
from .entries import me

CONTRIBUTIONS_LIMIT = 200


@bp.get("/editor/contributions")
@role_required("contributor")
def contributions() -> str:
    user = me()
    mine = proposals_of(user, limit=CONTRIBUTIONS_LIMIT)
    return render_template("editor/contributions.html", proposals=mine,
                           editable={p.id for p in mine if can_edit_proposal(user, p)})
