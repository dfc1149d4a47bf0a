"""JSON responses serialised with orjson (fast, and strict about what it is given)."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def json_response(value: Any, status: int = 200, mimetype: str = "application/json") -> Response:
    return Response(dumps(value), status=status, mimetype=mimetype)


def raw_json_response(body: str | bytes, status: int = 200,
                      mimetype: str = "application/json") -> Response:
    """A body already serialised (JSON built in PostgreSQL)."""
    return Response(body, status=status, mimetype=mimetype)
