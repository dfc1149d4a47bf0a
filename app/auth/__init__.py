"""Accounts on the web: login and logout, sessions (Flask-Login), CSRF (Flask-WTF), limits.

`init_auth(app)` attaches them; `create_app` registers the blueprint. Sessions are
signed cookies (HttpOnly, SameSite=Lax, Secure behind HTTPS: see config) holding the
key of a server-side session record (app.services.sessions), so that logout really
ends them; every form carries a CSRF token; failed logins are rate-limited per
address and email.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, g, redirect, render_template, request, url_for
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from ..extensions import csrf, limiter, login_manager
from ..http.locale import fresh_locale, page_headers
from ..models import User
from ..services.sessions import session_user

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(session_key: str) -> User | None:
    """The session's user, while its server-side record lives (app.services.sessions)."""
    return session_user(session_key)


@login_manager.unauthorized_handler
def unauthorized() -> Response:
    """Reading an editor page: log in first. Writing without an account: 403."""
    from flask import abort

    if request.method in ("GET", "HEAD"):
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(403)


def csrf_refused(error: CSRFError) -> tuple[str | dict, int]:
    if request.accept_mimetypes.best == "application/json" or request.is_json:
        return {"error": "csrf", "message": error.description}, 400
    return render_template("auth/error.html", status=400, reason="csrf"), 400


def rate_limited(error: RateLimitExceeded) -> tuple[str, int, dict[str, str]]:
    retry = _retry_after(error)
    if request.endpoint == "auth.login":
        from .views import login_page

        return login_page(rate_limited=True, status=429), 429, {"Retry-After": retry}
    return (render_template("auth/error.html", status=429, reason=request.endpoint),
            429, {"Retry-After": retry})


def _retry_after(error: RateLimitExceeded) -> str:
    limit = getattr(error, "limit", None)
    seconds = getattr(getattr(limit, "limit", None), "get_expiry", lambda: 60)()
    return str(int(seconds))


def forbidden(_error: Exception) -> tuple[str, int]:
    return render_template("auth/error.html", status=403, reason="role"), 403


def private_pages(response: Response) -> Response:
    """Pages with a user's data or a form token stay out of shared caches."""
    response.headers["Cache-Control"] = "private, no-store"
    return response


bp.before_request(fresh_locale)
bp.after_request(page_headers)
bp.after_request(private_pages)
bp.register_error_handler(403, forbidden)

from . import recovery, views  # noqa: E402,F401  (the routes)

# What Flask-Login and Flask-WTF cache on `g` for one request. `g` lives as long as the
# application context, which outlives a request when the caller pushed it (tests,
# scripts): a user, a token or "CSRF already checked" must never leak to the next request.
REQUEST_CACHE = ("_login_user", "csrf_token", "csrf_valid")


def fresh_request_state() -> None:
    for name in REQUEST_CACHE:
        g.pop(name, None)


def known_user() -> None:
    """Load the session's user before the view: an error page renders without the
    database then, and a database that cannot be reached answers 503 here."""
    if request.endpoint != "static":
        current_user._get_current_object()


def init_auth(app: Flask) -> None:
    app.before_request(fresh_request_state)  # before CSRFProtect's check
    app.before_request(known_user)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    csrf.init_app(app)
    limiter.init_app(app)
    app.register_error_handler(CSRFError, csrf_refused)
    app.register_error_handler(RateLimitExceeded, rate_limited)
