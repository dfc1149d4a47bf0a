"""Login and logout pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, redirect, render_template, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from ..extensions import limiter
from ..models import User
from ..services.sessions import end_session, open_session
from ..services.users import find_user, hash_password, record_login, verify_password
from . import bp

# Verified against when the email is unknown, so that both cases take the same time.
_DUMMY_HASH: list[str] = []


def login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def login_key() -> str:
    """Failed logins are counted per address and per account tried from it."""
    return f"login|{get_remote_address()}|{request.form.get('email', '').strip().lower()}"


def failed(response: Response) -> bool:
    return response.status_code == 422


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site (never another host: no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return None
    return target


def login_page(*, error: bool = False, rate_limited: bool = False, status: int = 200) -> str:
    return render_template("auth/login.html", error=error, rate_limited=rate_limited,
                           email=request.form.get("email", ""),
                           next=safe_next(request.values.get("next")) or "")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_limit, key_func=login_key, methods=["POST"], deduct_when=failed)
def login() -> Response | tuple[str, int]:
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(safe_next(request.args.get("next")) or url_for("editor.dashboard"))
        return login_page()
    email = request.form.get("email", "").strip()
    password = request.form.get("password", "")
    user = find_user(email) if email else None
    if user is None or not user.active:
        if not _DUMMY_HASH:
            _DUMMY_HASH.append(hash_password("not a password of anyone"))
        verify_password(User(password_hash=_DUMMY_HASH[0]), password)
        return login_page(error=True), 422
    if not verify_password(user, password):
        return login_page(error=True), 422
    session.clear()  # no session fixation: a fresh session for the logged-in user
    open_session(user)
    login_user(user)
    session.permanent = True
    record_login(user)
    target = safe_next(request.form.get("next")) or url_for("editor.dashboard")
    return redirect(target, 303)


@bp.post("/logout")
def logout() -> Response:
    if current_user.is_authenticated:
        end_session(current_user.session_key)
    logout_user()
    session.clear()
    return redirect(url_for("web.index"), 303)
