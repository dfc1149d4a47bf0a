"""Errors a writer can act on.

Each problem with an input is an `ErrorMessage`: its English text (what the API, logs
and scripts show) that also carries a stable `code` and its `params`. Pages in other
languages translate by code (app/editor/messages.py), so rewording the English text
breaks no translation.
"""

from __future__ import annotations

from functools import lru_cache
from string import Formatter
from typing import Any


class ErrorMessage(str):
    """One problem, in English, with a stable `code` and the `params` its text names.

    A `str`, so that it is stored, compared and serialised as its text; marshmallow
    fills in the values of its messages with `format`, which keeps the code.
    """

    code: str
    template: str
    params: dict[str, Any]

    def __new__(cls, code: str, template: str, **params: Any) -> ErrorMessage:
        names = _names(template)
        kept = {k: v for k, v in params.items() if k in names}
        text = template.format(**kept) if names and names <= kept.keys() else template
        self = super().__new__(cls, text)
        self.code, self.template, self.params = code, template, kept
        return self

    def format(self, *args: Any, **kwargs: Any) -> ErrorMessage:  # type: ignore[override]
        return ErrorMessage(self.code, self.template, **{**self.params, **kwargs})

    def __reduce__(self) -> tuple[Any, ...]:  # pickled to and from importer processes
        return _rebuild, (self.code, self.template, self.params)

    def public_params(self) -> dict[str, Any]:
        """The parameters as JSON values (what the API gives beside the code)."""
        return {k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
                for k, v in self.params.items()}


def _rebuild(code: str, template: str, params: dict[str, Any]) -> ErrorMessage:
    return ErrorMessage(code, template, **params)


def coded(code: str, template: str, **params: Any) -> ErrorMessage:
    """A problem with its code: `coded("slug_taken", "This slug is already used…")`."""
    return ErrorMessage(code, template, **params)


def code_of(message: Any) -> str | None:
    return getattr(message, "code", None)


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


@lru_cache(maxsize=1024)
def _names(template: str) -> frozenset[str]:
    """The names a template fills in, parsed once per template: marshmallow's URL
    validator formats its message on every value it checks, valid ones included."""
    return frozenset(name.split(".")[0].split("[")[0]
                     for _, name, _, _ in Formatter().parse(template) if name)
