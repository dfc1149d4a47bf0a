"""Conditional requests: validators (ETag, Last-Modified) and 304s, before any page is built.

Every read answers with a weak ETag derived from `app.query.state.data_state()`
(and the URL and representation), so a client that already has the answer gets
a 304 before any page is built; `Cache-Control: no-cache` makes shared caches
revalidate, which is cheap, so that mirrors never read stale data. One entry's
answer carries its strong ETag `"v<version>"`, which the writes compare in If-Match.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any

from flask import Response, g, request

from ..query.state import data_state
from .cache import response_cache

DATA_CACHE_CONTROL = "public, no-cache"
DOC_CACHE_CONTROL = "public, max-age=300"


def conditional(negotiate: Callable[[], str] | None = None) -> Callable[..., Any]:
    """Answer 304 when the client's copy is current; otherwise add ETag and Last-Modified.

    The ETag covers the data, the full URL and the representation that `negotiate`
    picks (for views that choose a format from Accept), so it changes whenever the
    answer could. A JSON answer already built for this ETag and address (links carry
    the host) comes from the ResponseCache.
    """

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            state = g.data_state = data_state()
            representation = negotiate() if negotiate is not None else ""
            etag = hashlib.sha256(f"{state.token}|{request.full_path}|{representation}"
                                  .encode()).hexdigest()[:32]
            if _not_modified(etag, state.last_modified):
                response = Response(status=304)
            else:
                cache, key = response_cache(), (etag, request.url)
                response = cache.get(key)
                if response is None:
                    response = view(*args, **kwargs)
                    if not isinstance(response, Response) or response.status_code != 200:
                        return response
                    cache.put(key, response)
            response.set_etag(etag, weak=True)
            if state.last_modified is not None:
                response.last_modified = state.last_modified
            response.headers.setdefault("Cache-Control", DATA_CACHE_CONTROL)
            if negotiate is not None:
                response.vary.add("Accept")
            return response

        return wrapper

    return decorator


def entry_validated(entry: Any, build: Callable[[], Response]) -> Response:
    """One entry's answer with its strong ETag `"v<version>"` (If-Match of the writes
    compares strongly), or a 304 when the client has that version."""
    etag = f"v{entry.version}"
    response = Response(status=304) if _not_modified(etag, entry.updated_at) else build()
    response.set_etag(etag)
    response.last_modified = entry.updated_at
    response.headers.setdefault("Cache-Control", DATA_CACHE_CONTROL)
    return response


def _not_modified(etag: str, last_modified: Any) -> bool:
    if request.if_none_match:
        return request.if_none_match.contains_weak(etag)
    ims = request.if_modified_since
    return bool(ims and last_modified is not None
                and last_modified.replace(microsecond=0) <= ims)
