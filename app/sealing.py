"""Secrets the application must read back (a source's token, a webhook's signing key),
stored encrypted with a key derived from SECRET_KEY and the secret's purpose: a copy of
the database alone gives none of them away. A hash would not do: the value is sent or
signed with, not compared."""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING

from flask import current_app

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

SEALED_PREFIX = "fernet:"


class SealError(ValueError):
    """A sealed value this key cannot open; the message says why, never the value."""


def _fernet(purpose: bytes) -> Fernet:
    from cryptography.fernet import Fernet  # here, not at every start of the app (test_modes)

    secret = str(current_app.config["SECRET_KEY"]).encode()
    key = hashlib.sha256(purpose + b"\0" + secret).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(value: str, purpose: bytes) -> str:
    """What to store for `value`: "fernet:<token>"."""
    return SEALED_PREFIX + _fernet(purpose).encrypt(value.encode()).decode()


def is_sealed(stored: str | None) -> bool:
    return bool(stored) and str(stored).startswith(SEALED_PREFIX)


def unseal(stored: str, purpose: bytes) -> str:
    """The value `seal` stored; SealError when the key cannot open it."""
    if not is_sealed(stored):
        raise SealError("the stored value is not sealed")
    from cryptography.fernet import InvalidToken

    try:
        return _fernet(purpose).decrypt(stored[len(SEALED_PREFIX):].encode()).decode()
    except InvalidToken:
        raise SealError("the stored value cannot be read with this SECRET_KEY (was the "
                        "key changed?)") from None
