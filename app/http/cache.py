"""The response cache: bodies of recent JSON answers, by ETag and address.

The same URL on the same data state is the same answer, so a popular page (a map's
first page of features) is built once per change of the data rather than once per
client. `conditional` (app/http/conditional.py) reads and fills it.
"""

from __future__ import annotations

from flask import Response, current_app

from ..lru import Lru


class ResponseCache:
    """Only JSON (never HTML, whose page shows who is logged in), only whole bodies (no
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
    """This app's cache, of ATLAS_RESPONSE_CACHE_MB (64 by default), made on first use."""
    cache = current_app.extensions.get("atlas_response_cache")
    if cache is None:
        megabytes = float(current_app.config.get("RESPONSE_CACHE_MB", 64))
        cache = current_app.extensions["atlas_response_cache"] = ResponseCache(
            int(megabytes * 1024 * 1024))
    return cache
