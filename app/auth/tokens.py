"""Bearer tokens of platforms and scripts (`Authorization: Bearer atl_…`) for API writes.

API writes read no session cookie, only this header: so they need no CSRF token,
and a browser cannot be tricked into sending them.
"""

from __future__ import annotations

from flask import request

from ..models import User
from ..services.tokens import user_for_token


class BearerError(Exception):
    """No usable token: `reason` is the RFC 6750 error code, or None when none was given."""

    def __init__(self, reason: str | None, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail

    @property
    def challenge(self) -> str:
        """The WWW-Authenticate value of the 401 answer."""
        if self.reason is None:
            return 'Bearer realm="atlas"'
        return f'Bearer realm="atlas", error="{self.reason}"'


def bearer_user() -> User:
    """The active user behind the request's bearer token; BearerError otherwise."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise BearerError(None, "This operation needs an API token: "
                                "send `Authorization: Bearer <token>`.")
    user = user_for_token(token.strip())
    if user is None:
        raise BearerError("invalid_token", "This token is unknown, revoked, or its account "
                                           "is deactivated.")
    return user
