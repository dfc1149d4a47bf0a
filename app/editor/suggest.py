""""Suggest a place": anyone, without an account. It lands as a pending proposal.

Behind a honeypot field (bots fill every field; people never see this one) and a
rate limit per address (SUGGEST_RATE_LIMIT).
"""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..extensions import db, limiter
from ..http.locale import locale_code
from ..models.vocab import ENTRY_KINDS
from ..services.entries import find_entry, plan_entry
from ..services.errors import WriteValidationError
from ..services.policy import public_entry
from ..services.proposals import SUGGESTION_LABEL, propose_entry
from ..services.revisions import Author
from ..services.twin_rule import MAX_TWINS
from . import bp
from .access import viewer
from .entries import location_config
from .forms import _number
from .messages import field_errors
from .twins import twins_json, twins_of

SUGGEST_FIELDS = ("name", "kind", "summary", "street", "postcode", "city", "website")
HONEYPOT = "homepage"
CONTACT_MAX = 254
MESSAGE_MAX = 1000


def suggest_limit() -> str:
    return current_app.config["SUGGEST_RATE_LIMIT"]


def stored(response: Response) -> bool:
    return response.status_code == 303


def _render(values: dict[str, str], errors: dict[str, list[str]] | None = None,
            status: int = 200) -> tuple[str, int]:
    twins = twins_json(twins_of(values)) if status != 200 else []
    return render_template("editor/suggest.html", values=values, errors=errors or {},
                           kinds=ENTRY_KINDS, location_config=location_config(),
                           honeypot=HONEYPOT, twins=twins), status


def suggester() -> Author:
    """A logged-in visitor's suggestion is theirs (it shows in their contributions);
    anyone else's is anonymous."""
    user = viewer()
    return Author(user=user) if user is not None and user.is_active else \
        Author(label=SUGGESTION_LABEL)


@bp.route("/suggest", methods=["GET", "POST"])
@limiter.limit(suggest_limit, methods=["POST"], deduct_when=stored)
def suggest() -> Response | tuple[str, int]:
    if request.method == "GET":
        return _render({"kind": "third_place"})
    form = request.form
    values = {name: form.get(name, "") for name in
              (*SUGGEST_FIELDS, "lon", "lat", "contact", "message")}
    if form.get(HONEYPOT, "").strip():
        # A bot: thank it like a person, store nothing.
        return redirect(url_for("editor.suggest_thanks"), 303)
    errors: dict[str, list[str]] = {}
    contact = values["contact"].strip()
    if contact and ("@" not in contact or len(contact) > CONTACT_MAX):
        errors["contact"] = [_("Not a valid email address (it needs an @).")]
    if len(values["message"]) > MESSAGE_MAX:
        errors["message"] = [_("At most %(max)s characters.", max=MESSAGE_MAX)]
    data = {name: values[name] for name in SUGGEST_FIELDS}
    data["lon"], data["lat"] = _number(values["lon"]), _number(values["lat"])
    try:  # every problem at once, beside its field
        plan_entry(None, {**data, "moderation": "pending"})
    except WriteValidationError as exc:
        errors.update(field_errors(exc.messages))
    if errors:
        return _render(values, errors, 422)
    # A likely duplicate is a warning (on the thanks page, and the editors' review
    # shows it), not a refusal: only people on the spot know two places apart.
    twins = [t.slug for t in twins_of(values)]
    try:
        propose_entry(data, author=suggester(),
                      comment=values["message"].strip() or None, contact=contact or None,
                      locale=locale_code())
    except WriteValidationError as exc:
        db.session.rollback()
        return _render(values, field_errors(exc.messages), 422)
    return redirect(url_for("editor.suggest_thanks", twin=twins), 303)


@bp.get("/suggest/thanks")
def suggest_thanks() -> str:
    slugs = request.args.getlist("twin")[:MAX_TWINS]
    twins = [e for e in (find_entry(s) for s in slugs) if e is not None and public_entry(e)]
    return render_template("editor/suggest_thanks.html", twins=twins)
