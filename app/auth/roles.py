"""Roles, checked on the server for every write: contributor < editor < admin."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import abort
from flask_login import current_user

from ..extensions import login_manager
from ..models import User
from ..services.policy import ROLE_RANK, has_role

__all__ = ["ROLE_RANK", "has_role", "publishes", "role_required"]


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
