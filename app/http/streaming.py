"""Streamed answers (feeds, exports) that fail before they start, not halfway.

Once the first byte of a streamed answer is sent, its status (200) and headers are
gone: an error after that can only cut the body. So a streamed view runs its
generator up to the first chunk before it returns (`streamed_response`), and
generators put the first batch of rows in their first chunk (app/query/batches.py):
a database that cannot be reached then raises in the view, which answers 503
(app/http/outage.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TypeVar

from flask import Response, stream_with_context

T = TypeVar("T")


def started(chunks: Iterator[T]) -> Iterator[T]:
    """`chunks`, run now up to its first chunk (errors raise here), then the rest."""
    try:
        first = next(chunks)
    except StopIteration:
        return iter(())
    return _resume(first, chunks)


def _resume(first: T, rest: Iterator[T]) -> Iterator[T]:
    try:
        yield first
        yield from rest
    finally:
        close = getattr(rest, "close", None)
        if close is not None:  # a client gone before the end: release the connection
            close()


def streamed_response(chunks: Iterator[Any], **kwargs: Any) -> Response:
    """A streamed Response whose generator has already produced its first chunk."""
    return Response(stream_with_context(started(chunks)), **kwargs)
