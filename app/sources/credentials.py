"""A source's credential, never stored in clear nor shown back: either sealed
(app/sealing.py) ("fernet:<token>"), or the name of an environment variable
that holds it ("env:<NAME>"), read when a request needs it."""

from __future__ import annotations

import os

from ..sealing import SealError, is_sealed, unseal
from ..sealing import seal as seal_value

ENV_PREFIX = "env:"
PURPOSE = b"atlas source credentials"


class CredentialError(ValueError):
    """A credential that cannot be used; the message says why, never the secret."""


def seal(given: str | None) -> str | None:
    """What to store for what an administrator typed: "env:NAME" stays a reference,
    anything else is encrypted; blank is no credential."""
    given = (given or "").strip()
    if not given:
        return None
    if given.startswith(ENV_PREFIX):
        name = given[len(ENV_PREFIX):]
        if not name.replace("_", "").isalnum():
            raise CredentialError("env:NAME names an environment variable: letters, digits, _")
        return given
    return seal_value(given, PURPOSE)


def reveal(stored: str | None) -> str | None:
    """The credential for an outgoing request (never for a page)."""
    if not stored:
        return None
    if stored.startswith(ENV_PREFIX):
        name = stored[len(ENV_PREFIX):]
        value = os.environ.get(name)
        if not value:
            raise CredentialError(f"the environment variable {name} is not set")
        return value
    if is_sealed(stored):
        try:
            return unseal(stored, PURPOSE)
        except SealError:
            raise CredentialError("the stored credential cannot be read with this "
                                  "SECRET_KEY (was the key changed?): enter it again") from None
    raise CredentialError("the stored credential has an unknown form")


def describe(stored: str | None) -> str:
    """How a page may mention a credential: its kind, never its value."""
    if not stored:
        return "none"
    if stored.startswith(ENV_PREFIX):
        return stored  # the variable's name only
    return "sealed"
