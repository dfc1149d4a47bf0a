"""HTTP manners for the machine-facing parts: validators and 304s, caching, CORS, compression.

Every read answers with a weak ETag derived from `app.query.state.data_state()`
(and the URL and representation), so a client that already has the answer gets
a 304 before any page is built; `Cache-Control: no-cache` makes shared caches
revalidate, which is cheap, so that mirrors never read stale data.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_compress import Compress
from flask_cors import CORS

from ..lru import Lru
from ..query.state import data_state

DATA_CACHE_CONTROL = "public, no-cache"
DOC_CACHE_CONTROL = "public, max-age=300"
EXTRA_COMPRESSED_TYPES = (
    "application/geo+json", "application/problem+json", "application/schema+json",
    "application/vnd.oai.openapi+json", "text/csv", "application/ld+json",
)
compress = Compress()


class ResponseCache:
    """Bodies of recent JSON answers, by ETag and address: the same URL on the same data
    state is the same answer, so a popular page (a map's first page of features) is
    built once per change of the data rather than once per client.

    Only JSON (never HTML, whose page shows who is logged in), only whole bodies (no
    streams), none over a quarter of `max_bytes`, at most `max_bytes` in all (least
    recently used first out); 0 turns it off. Per process: each worker keeps its own.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.store = Lru(max_bytes, weight=lambda item: len(item[2]))
        # (etag, url) -> (status, headers, body)
        self.items = self.store.items

    @property
    def used(self) -> int:
        return self.store.used

    def get(self, key: tuple[str, str]) -> Response | None:
        item = self.store.get(key, None)
        if item is None:
            return None
        status, headers, body = item
        return Response(body, status=status, headers=headers)

    def put(self, key: tuple[str, str], response: Response) -> None:
        if (self.max_bytes <= 0 or response.is_streamed or not response.is_json
                or "Set-Cookie" in response.headers):
            return
        body = response.get_data()
        if len(body) <= self.max_bytes // 4:
            self.store.put(key, (response.status_code, list(response.headers.items()), body))


def response_cache() -> ResponseCache:
    cache = current_app.extensions.get("atlas_response_cache")
    if cache is None:
        megabytes = float(current_app.config.get("RESPONSE_CACHE_MB", 64))
        cache = current_app.extensions["atlas_response_cache"] = ResponseCache(
            int(megabytes * 1024 * 1024))
    return cache


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


# An entry's ETag, "v<version>", as Flask-Compress leaves it on a compressed answer.
CODED_ENTRY_ETAG = re.compile(r"^(v\d+):(gzip|br|deflate|zstd)$")


def entry_etag_as_promised(response: Response) -> Response:
    """Keep an entry's ETag "v<version>" whatever the content coding.

    Flask-Compress suffixes strong ETags with the coding ("v3:gzip"); the write API's
    contract is that an entry's ETag is its version, which clients send back in
    If-Match. Vary: Accept-Encoding still keeps caches' copies apart.
    """
    etag, weak = response.get_etag()
    match = CODED_ENTRY_ETAG.match(etag or "")
    if match and not weak:
        response.set_etag(match.group(1))
    return response


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


def init_http(app: Flask) -> None:
    """CORS for reads, and compression (gzip too for streamed answers)."""
    CORS(app, resources={r"/api/*": {}, r"/ogc": {}, r"/ogc/*": {}},
         origins="*", methods=["GET", "HEAD", "OPTIONS"], allow_headers="*",
         expose_headers=["ETag", "Last-Modified", "Link", "Content-Length"],
         max_age=86400, send_wildcard=True, vary_header=False)
    mimetypes = list(app.config.get("COMPRESS_MIMETYPES") or [
        "text/html", "text/css", "text/plain", "text/javascript", "application/javascript",
        "application/json", "image/svg+xml"])
    app.config["COMPRESS_MIMETYPES"] = [*mimetypes, *(
        t for t in EXTRA_COMPRESSED_TYPES if t not in mimetypes)]
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip", "deflate"])
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["gzip", "br", "deflate"])
    app.config.setdefault("COMPRESS_MIN_SIZE", 500)
    # Our views answer conditional requests themselves, before building the body.
    app.config.setdefault("COMPRESS_EVALUATE_CONDITIONAL_REQUEST", False)
    # Registered before compression's hook, so it runs after it (Flask runs them in reverse).
    app.after_request(entry_etag_as_promised)
    compress.init_app(app)
