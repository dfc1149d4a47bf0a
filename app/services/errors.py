"""Errors a writer can act on."""

from __future__ import annotations

from typing import Any


class WriteValidationError(ValueError):
    """Input refused; `messages` maps each field (dotted for nested ones) to its problems."""

    def __init__(self, messages: dict[str, Any]) -> None:
        self.messages = messages
        super().__init__("; ".join(f"{field}: {_flat(msg)}" for field, msg in messages.items()))


class ConflictError(RuntimeError):
    """The write was based on a version that is no longer the current one."""

    def __init__(self, entity: str, entity_id: object, expected: int | None,
                 current: int | None) -> None:
        self.entity, self.entity_id = entity, entity_id
        self.expected, self.current = expected, current
        super().__init__(f"{entity} {entity_id} is at version {current}, but this write was "
                         f"based on version {expected}: reload, merge and save again.")


class NotFoundError(LookupError):
    pass


def _flat(message: Any) -> str:
    if isinstance(message, list):
        return " ".join(_flat(m) for m in message)
    if isinstance(message, dict):
        return "; ".join(f"{k}: {_flat(v)}" for k, v in message.items())
    return str(message)
