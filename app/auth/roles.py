"""Roles, checked on the server for every write: contributor < editor < admin."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import abort
from flask_login import current_user

from ..extensions import login_manager
from ..models import User

ROLE_RANK = {"contributor": 1, "editor": 2, "admin": 3}


def has_role(user: Any, minimum: str) -> bool:
    """True when `user` is logged in, active, and at least `minimum`."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_active) and ROLE_RANK.get(user.role, 0) >= ROLE_RANK[minimum]


def publishes(user: User) -> bool:
    """Editors and admins publish; a contributor's writes wait for them."""
    return has_role(user, "editor")


def role_required(minimum: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Refuse anyone below `minimum`: anonymous readers go to the login page (GET) or get a
    403 (other methods); logged-in users without the role get a 403.

    The view keeps `required_role`, so a test can check every write route.
    """
    if minimum not in ROLE_RANK:
        raise ValueError(f"unknown role {minimum!r}")

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not has_role(current_user, minimum):
                abort(403)
            return view(*args, **kwargs)

        wrapper.required_role = minimum  # type: ignore[attr-defined]
        return wrapper

    return decorator
