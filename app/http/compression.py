"""Compression of answers (br, gzip, deflate; gzip too for streamed ones).

Flask-Compress suffixes strong ETags with the coding ("v3:gzip"); an entry's ETag
is its version, which the write API's clients send back in If-Match, so the suffix
is taken off again (`entry_etag_as_promised`).
"""

from __future__ import annotations

import re

from flask import Flask, Response
from flask_compress import Compress

EXTRA_COMPRESSED_TYPES = (
    "application/geo+json", "application/problem+json", "application/schema+json",
    "application/vnd.oai.openapi+json", "text/csv", "application/ld+json",
)
compress = Compress()

# An entry's ETag, "v<version>", as Flask-Compress leaves it on a compressed answer.
CODED_ENTRY_ETAG = re.compile(r"^(v\d+):(gzip|br|deflate|zstd)$")


def entry_etag_as_promised(response: Response) -> Response:
    """Keep an entry's ETag "v<version>" whatever the content coding.

    Vary: Accept-Encoding still keeps caches' copies apart.
    """
    etag, weak = response.get_etag()
    match = CODED_ENTRY_ETAG.match(etag or "")
    if match and not weak:
        response.set_etag(match.group(1))
    return response


def init_compression(app: Flask) -> None:
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
