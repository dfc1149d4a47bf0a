"""Administrator access to the admin pages: HTTP Basic against the accounts, checked
server-side on every request, and a CSRF token on every form.

Basic authentication keeps these pages usable before the login pages exist; the
browser sends the credentials with every request, hence the per-user CSRF token
(signed with SECRET_KEY) that every POST must carry.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, current_app, g, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from ..services.users import find_user, verify_password

CSRF_MAX_AGE = 8 * 3600


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="admin-csrf")


def csrf_token() -> str:
    return _serializer().dumps(g.admin.id)


def _challenge() -> Response:
    return Response("Administrator account needed.", 401,
                    {"WWW-Authenticate": 'Basic realm="Atlas des communs admin", '
                                         'charset="UTF-8"'})


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        auth = request.authorization
        if auth is None or auth.type != "basic" or not auth.username:
            return _challenge()
        user = find_user(auth.username)
        if user is None or not user.active or not verify_password(user, auth.password or ""):
            return _challenge()
        if user.role != "admin":
            abort(403)
        g.admin = user
        if request.method == "POST":
            try:
                owner = _serializer().loads(request.form.get("csrf_token", ""),
                                            max_age=CSRF_MAX_AGE)
            except BadSignature:
                abort(400, "Missing or expired form token: reload the page.")
            if owner != user.id:
                abort(400, "This form token belongs to another account.")
        return view(*args, **kwargs)

    return wrapper
