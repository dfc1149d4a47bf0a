"""The note a proposal's author gets when an editor decides, sent from the editor's page."""

from __future__ import annotations

from flask import flash

from ..models import Proposal
from .messages import delivery_notice, send_decision


def tell_author(proposal: Proposal) -> None:
    """Mail the decision and its reason to whoever proposed (if reachable); tell the editor
    on the page when the mail could not leave."""
    delivery = send_decision(proposal)
    notice = delivery_notice(delivery) if delivery is not None else None
    if notice:
        flash(notice, "warning")
