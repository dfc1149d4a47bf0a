"""The administrators' list of accounts and API tokens (changes go through `flask users`)."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import select

from ..auth.roles import role_required
from ..extensions import db
from ..models import ApiToken
from ..services.users import list_users
from . import bp


@bp.get("/editor/users")
@role_required("admin")
def users() -> str:
    tokens = db.session.scalars(select(ApiToken).order_by(ApiToken.id)).all()
    by_user: dict[int, list[ApiToken]] = {}
    for token in tokens:
        by_user.setdefault(token.user_id, []).append(token)
    return render_template("editor/users.html", users=list_users(), tokens=by_user)
