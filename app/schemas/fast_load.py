"""A quicker `Schema.load` for input the schema accepts, with the schema's refusals.

A mirror's first pull or push validates every entry it copies: 100,000 loads of the
entry schema, about half a millisecond each, most of it marshmallow's bookkeeping per
field (an error store, a closure, an `And` of the validators built per call) rather
than the checks themselves. `FastLoader` runs the same checks — the schema's own
hooks, fields and validator objects, in the schema's order — without that
bookkeeping, and stops at the first doubt: a value a field would refuse, a validator
that objects, an unknown key, anything unexpected. The schema's own `load` then runs
on the same input, so a refusal (and every message of it, each naming its field) is
exactly the schema's; what the fast path accepts is what `load` would return
(tests/unit/test_fast_load.py compares both on valid and invalid input).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from marshmallow import RAISE, Schema, fields
from marshmallow.decorators import POST_LOAD, PRE_LOAD, VALIDATES, VALIDATES_SCHEMA
from marshmallow.utils import missing
from marshmallow.validate import Validator

_MISSING = missing


class _Doubt(Exception):
    """The fast path is not sure: the schema's own load decides."""


def _plain_string(field: fields.Field) -> bool:
    """A field that loads a str as itself, then runs its validators (fields.String and
    subclasses that only add validators: Email, Url…)."""
    cls = type(field)
    return (isinstance(field, fields.String)
            and cls._deserialize is fields.String._deserialize
            and cls.deserialize is fields.Field.deserialize
            and cls._validate is fields.Field._validate
            and cls._validate_all is fields.Field._validate_all
            and not getattr(field, "pre_load", None) and not getattr(field, "post_load", None))


class FastLoader:
    """`load(data, partial=...)` as `schema.load` answers it, quicker when it accepts.

    Only for what it knows how to run exactly: a schema loading one mapping (not many),
    unknown keys refused, no `data_key`/`attribute`, hooks that take the data alone
    (pre_load, validates_schema, post_load without pass_original or pass_collection);
    any other schema is loaded by the schema itself every time.
    """

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.fallbacks = 0  # loads the schema ran itself (refusals, doubts): for tests
        hooks = schema._hooks
        self.supported = (
            not schema.many and schema.unknown == RAISE and not hooks[VALIDATES]
            and all(not many and not kw.get("pass_original")
                    for tag in (PRE_LOAD, VALIDATES_SCHEMA, POST_LOAD)
                    for _, many, kw in hooks[tag])
            and all(f.data_key is None and f.attribute is None and "." not in name
                    for name, f in schema.load_fields.items()))
        self.pre: list[Callable[..., Any]] = [getattr(schema, name)
                                              for name, _, _ in hooks[PRE_LOAD]]
        self.checks: list[Callable[..., Any]] = [getattr(schema, name)
                                                 for name, _, _ in hooks[VALIDATES_SCHEMA]]
        self.post: list[Callable[..., Any]] = [getattr(schema, name)
                                               for name, _, _ in hooks[POST_LOAD]]
        self.names = frozenset(schema.load_fields)
        # (name, field, its validators when it is a plain string field, else None)
        self.plan = [(name, field, list(field.validators) if _plain_string(field) else None)
                     for name, field in schema.load_fields.items()]

    def load(self, data: Any, *, partial: bool = False) -> Any:
        """What `self.schema.load(data, partial=partial)` returns or raises."""
        if self.supported and isinstance(data, Mapping):
            # Any doubt, whatever it raised: the schema itself decides.
            with contextlib.suppress(Exception):
                return self._fast(data, partial)
        self.fallbacks += 1
        return self.schema.load(data, partial=partial)

    def _fast(self, data: Mapping[str, Any], partial: bool) -> dict[str, Any]:
        unknown = self.schema.unknown
        for hook in self.pre:
            data = hook(data, many=False, partial=partial, unknown=unknown)
        if not isinstance(data, Mapping) or not self.names.issuperset(data):
            raise _Doubt
        result: dict[str, Any] = {}
        for name, field, validators in self.plan:
            raw = data.get(name, _MISSING)
            if raw is _MISSING:
                if partial:
                    continue
                value = field.deserialize(raw, name, data, partial=partial)
            elif validators is not None:
                if type(raw) is str:
                    value = raw
                    for validator in validators:
                        if validator(value) is False and not isinstance(validator, Validator):
                            raise _Doubt
                elif raw is None and field.allow_none:
                    value = None
                else:
                    raise _Doubt
            else:
                value = field.deserialize(raw, name, data, partial=partial)
            if value is not _MISSING:
                result[name] = value
        for check in self.checks:
            check(result, partial=partial, many=False, unknown=unknown)
        for hook in self.post:
            result = hook(result, many=False, partial=partial, unknown=unknown)
        return result
