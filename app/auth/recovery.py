"""Pages reached from a mail: forgotten password, new password, accepting an invitation.

"Forgotten password" answers the same whether the email has an account or not, sends
from a background thread (same answer time), and is rate-limited per address and per
email asked for. The links themselves are signed and expire (app.mail.links).
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from werkzeug.wrappers import Response

from ..extensions import db, limiter
from ..mail import links
from ..mail.messages import send_reset
from ..mail.sender import configured
from ..services.errors import WriteValidationError
from ..services.users import MIN_PASSWORD, create_user, find_user, set_password
from . import bp

NAME_MAX = 120


@bp.context_processor
def password_rules() -> dict[str, int]:
    return {"min_password": MIN_PASSWORD}


def reset_limit() -> str:
    return current_app.config["RESET_RATE_LIMIT"]


def reset_email_key() -> str:
    return f"reset|{request.form.get('email', '').strip().lower()}"


def reset_address_key() -> str:
    return f"reset|{get_remote_address()}"


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(reset_limit, key_func=reset_address_key, methods=["POST"])
@limiter.limit(reset_limit, key_func=reset_email_key, methods=["POST"])
def forgot_password() -> str | tuple[str, int]:
    if request.method == "GET":
        return render_template("auth/forgot.html", email="", asked=False, errors={})
    email = request.form.get("email", "").strip()
    if "@" not in email[1:-1]:
        return render_template("auth/forgot.html", email=email, asked=False, errors={
            "email": [_("Not a valid email address (it needs an @).")]}), 422
    user = find_user(email)
    if user is not None and user.active:
        send_reset(user)
    # Whatever became of it: the page never tells whether this email has an account.
    return render_template("auth/forgot.html", email=email, asked=True, errors={},
                           mail_configured=configured(),
                           minutes=current_app.config["PASSWORD_RESET_MAX_AGE"] // 60)


def _password_errors(password: str, confirmation: str) -> dict[str, list[str]]:
    if len(password) < MIN_PASSWORD:
        return {"password": [_("At least %(min)s characters.", min=MIN_PASSWORD)]}
    if password != confirmation:
        return {"confirmation": [_("The two passwords differ.")]}
    return {}


def _link_refused(error: links.LinkError) -> tuple[str, int]:
    return render_template("auth/link_error.html", reason=error.reason), 410 \
        if error.reason in ("expired", "used") else 404


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Response | tuple[str, int]:
    try:
        user = links.reset_user(token)
    except links.LinkError as error:
        return _link_refused(error)
    if request.method == "GET":
        return render_template("auth/reset.html", user=user, errors={}), 200
    errors = _password_errors(request.form.get("password", ""),
                              request.form.get("confirmation", ""))
    if errors:
        return render_template("auth/reset.html", user=user, errors=errors), 422
    set_password(user.email, request.form["password"])  # ends all its sessions; link used
    flash(_("Your password was changed. Log in with it."))
    return redirect(url_for("auth.login"), 303)


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str) -> Response | tuple[str, int]:
    try:
        invited = links.invitation(token)
    except links.LinkError as error:
        return _link_refused(error)
    name = request.form.get("name", "").strip()
    if request.method == "GET":
        return render_template("auth/invitation.html", invited=invited, name="",
                               errors={}), 200
    errors = _password_errors(request.form.get("password", ""),
                              request.form.get("confirmation", ""))
    if not name:
        errors["name"] = [_("Say how your name should appear to the other editors.")]
    elif len(name) > NAME_MAX:
        errors["name"] = [_("At most %(max)s characters.", max=NAME_MAX)]
    if not errors:
        try:
            create_user(invited["email"], request.form["password"], invited["role"], name)
        except WriteValidationError:  # the email got an account meanwhile: link used
            db.session.rollback()
            return _link_refused(links.LinkError("used"))
        flash(_("Your account is ready. Log in with your email and password."))
        return redirect(url_for("auth.login"), 303)
    return render_template("auth/invitation.html", invited=invited, name=name,
                           errors=errors), 422
