"""Input no route can take, refused once for the whole app before any view runs.

PostgreSQL text cannot hold U+0000: psycopg2 refuses such a value with a ValueError,
a 500 wherever a field reaches SQL (logging in, suggesting a place, any form or API
body). Python's JSON parser recurses once per level of nesting: 100,000 "[" were a
RecursionError, another 500. Both are checked here for every request, so a route
added later is covered too, and answered with a 400 naming the field: problem+json
under /api and /ogc, the site's error page elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import Flask, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest, NotFound

from .problems import is_machine_path, problem

NUL = "\x00"
# Our bodies nest four levels at most (answers → key → field); a hundred is far beyond
# any real document and far below Python's recursion limit (1,000).
MAX_JSON_DEPTH = 100


class RefusedInput(BadRequest):
    """A 400 naming where the input was refused: a field, a parameter, a header, the body."""

    def __init__(self, where: str, name: str, reason: str) -> None:
        self.where, self.field, self.reason = where, name, reason
        super().__init__(description=f"{name}: {reason}")


def too_deep() -> RefusedInput:
    return RefusedInput("body", "body", f"the JSON body is nested more than "
                                        f"{MAX_JSON_DEPTH} levels deep")


class GuardedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, whose loads refuses documents nested beyond MAX_JSON_DEPTH.

    The refusal is an HTTP error, not a ValueError: `get_json(silent=True)` does not
    swallow it, so every reader of a request body gets the same 400.
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = json.loads(s, **kwargs)
        except RecursionError:
            raise too_deep() from None
        if isinstance(value, dict | list) and _depth(value) > MAX_JSON_DEPTH:
            raise too_deep()
        return value


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, level + 1) for child in children
                     if isinstance(child, dict | list))
    return deepest


def _may_hold_nul(raw: bytes) -> bool:
    """Whether a JSON body can hold NUL once parsed. In UTF-8 text a string reaches NUL
    only through the escape \\u0000 (a raw U+0000 is a control character the parser
    refuses), so a body without it holds none, and its walk is spared (a mirror's batch:
    0.07 ms an entry). Other encodings are walked."""
    return json.detect_encoding(raw) != "utf-8" or b"\\u0000" in raw


def _nul_in_json(value: Any, path: str = "") -> str | None:
    """The dotted path of the first key or string holding NUL (answers.governance.limits)."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return where or "body"
        elif isinstance(item, dict):
            for key, child in item.items():
                name = f"{where}.{key}" if where else str(key)
                if NUL in str(key):
                    return name.replace(NUL, "\\0")
                stack.append((child, name))
        elif isinstance(item, list):
            stack.extend((child, f"{where}.{i}" if where else str(i))
                         for i, child in enumerate(item))
    return None


def _pairs(multi: Any) -> Iterator[tuple[str, str]]:
    for name, value in multi.items(multi=True):
        yield name, value if isinstance(value, str) else ""


def refuse_unstorable_input() -> None:
    """Before every request: NUL anywhere the app reads text, JSON nested too deeply."""
    if NUL in request.path:
        raise NotFound()
    for where, items in (("parameter", _pairs(request.args)), ("header",
                                                                request.headers.items())):
        for name, value in items:
            if NUL in name or NUL in value:
                raise _nul(where, name)
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        for name, value in _pairs(request.form):
            if NUL in name or NUL in value:
                raise _nul("field", name)
        for name, upload in request.files.items(multi=True):
            if NUL in (upload.filename or ""):
                raise _nul("field", name)
        if request.is_json and request.content_length != 0:
            # Parsed once here (the depth limit applies), cached for the view.
            value = request.get_json(silent=True)
            field = (_nul_in_json(value) if _may_hold_nul(request.get_data(cache=True))
                     else None)
            if field is not None:
                raise _nul("field", field)


def _nul(where: str, name: str) -> RefusedInput:
    return RefusedInput(where, name.replace(NUL, "\\0"),
                        "contains a NUL character (U+0000), which cannot be stored")


def refused_input(exc: RefusedInput):
    if is_machine_path(request.path):
        title = "Bad query parameter" if exc.where == "parameter" else "Bad request"
        return problem(400, title, exc.description, parameter=exc.field)
    if exc.where == "body":
        message = _("The JSON body is nested more than %(limit)d levels deep.",
                    limit=MAX_JSON_DEPTH)
    elif exc.where == "field":
        message = _("The field “%(name)s” contains a NUL character (U+0000), which cannot "
                    "be stored. Remove it and send the form again.", name=exc.field)
    elif exc.where == "parameter":
        message = _("The parameter “%(name)s” contains a NUL character (U+0000), which "
                    "cannot be stored.", name=exc.field)
    else:
        message = _("The header “%(name)s” contains a NUL character (U+0000).",
                    name=exc.field)
    return render_template("web/error.html", status=400, refused=message), 400


def init_input_guard(app: Flask) -> None:
    """Install the JSON depth limit and the check; before any other hook (CSRF included)."""
    app.json = GuardedJSONProvider(app)
    app.before_request(refuse_unstorable_input)
    app.register_error_handler(RefusedInput, refused_input)
