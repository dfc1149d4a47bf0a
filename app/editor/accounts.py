"""The administrators' changes to accounts, from the accounts page: invite, role, (de)activate.

Each is a POST with the form's CSRF token, for admins only (role_required); the
services refuse a change that would leave no active administrator.
"""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..auth.roles import role_required
from ..extensions import db
from ..mail.messages import delivery_notice, send_invitation
from ..models import User
from ..models.vocab import USER_ROLES
from ..services.users import LastAdminError, find_user, set_active, set_role
from . import bp
from .entries import me

INVITED_ROLES = ("editor", "contributor")


def _account(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _back() -> Response:
    return redirect(url_for("editor.users"), 303)


@bp.post("/editor/users/invite")
@role_required("admin")
def invite() -> Response:
    email = request.form.get("email", "").strip()
    role = request.form.get("role", "")
    if "@" not in email[1:-1] or len(email) > 254 or any(c.isspace() for c in email):
        flash(_("Not a valid email address (it needs an @)."), "error")
        return _back()
    if role not in INVITED_ROLES:
        flash(_("Invite as editor or contributor."), "error")
        return _back()
    if find_user(email) is not None:
        flash(_("An account with the email %(email)s already exists.", email=email), "error")
        return _back()
    delivery, link = send_invitation(email, role, me())
    notice = delivery_notice(delivery)
    if notice is None:
        flash(_("Invitation sent to %(email)s.", email=email))
    else:  # the admin alone sees the link, to pass it on another way
        flash(notice + " " + _("Send this link yourself: %(link)s", link=link), "warning")
    return _back()


@bp.post("/editor/users/<int:user_id>/role")
@role_required("admin")
def change_role(user_id: int) -> Response:
    user = _account(user_id)
    role = request.form.get("role", "")
    if role not in USER_ROLES:
        abort(400)
    try:
        set_role(user.email, role)
    except LastAdminError:
        return _refused_last_admin(user)
    flash(_("%(email)s is now %(role)s.", email=user.email, role=_role_label(role)))
    return _back()


def _refused_last_admin(user: User) -> Response:
    db.session.rollback()
    flash(_("%(email)s is the last active administrator: make someone else administrator "
            "first.", email=user.email), "error")
    return _back()


@bp.post("/editor/users/<int:user_id>/active")
@role_required("admin")
def change_active(user_id: int) -> Response:
    user = _account(user_id)
    active = request.form.get("active") == "1"
    try:
        set_active(user.email, active)
    except LastAdminError:
        return _refused_last_admin(user)
    if active:
        flash(_("%(email)s can log in again.", email=user.email))
    else:
        flash(_("%(email)s is deactivated: its sessions and API tokens stop.", email=user.email))
    return _back()


def _role_label(role: str) -> str:
    from .labels import ROLE_LABELS

    return str(ROLE_LABELS[role])
