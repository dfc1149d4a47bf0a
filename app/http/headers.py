"""Security headers, set in one place for every answer of the app, error pages included.

HTML answers get a Content-Security-Policy (scripts from the site only), framing
rules (only the embed may be framed) and a referrer policy; every answer gets
`nosniff`, and HSTS when the site is served behind HTTPS (ATLAS_HTTPS=1): sent
over plain HTTP it would lock a browser out of a site that has no HTTPS.
"""

from __future__ import annotations

import re

from flask import Flask, current_app, request
from werkzeug.wrappers import Response

HSTS = "max-age=31536000; includeSubDomains"
EMBED_ENDPOINTS = frozenset({"web.embed"})
# The API documentation pages (Swagger UI, ReDoc) start their viewer with an inline
# script and search in a worker made from a blob; they show the API, no user data.
DOC_ENDPOINTS = frozenset({"api-docs.openapi_swagger_ui", "api-docs.openapi_redoc",
                           "api-docs.openapi_rapidoc", "ogc.api"})


def tile_sources(tile_url: str) -> str:
    """The CSP source of the tile server ("https://*.tile.example.org" for {s} URLs)."""
    match = re.match(r"^(https?://)([^/]+)", tile_url)
    if not match:
        return ""
    host = re.sub(r"\{[a-z]\}", "*", match.group(2))
    return match.group(1) + host


def content_security_policy(*, embed: bool, docs: bool) -> str:
    tiles = tile_sources(current_app.config.get("TILE_URL", ""))
    return "; ".join((
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'" if docs else "script-src 'self'",
        *(("worker-src 'self' blob:",) if docs else ()),
        # Leaflet positions its panes and icons with inline styles.
        "style-src 'self' 'unsafe-inline'",
        f"img-src 'self' data: {tiles}".strip(),
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors *" if embed else "frame-ancestors 'none'",
    ))


def security_headers(response: Response) -> Response:
    if current_app.config.get("HTTPS"):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if response.mimetype != "text/html":
        return response
    embed = request.endpoint in EMBED_ENDPOINTS
    response.headers.setdefault("Content-Security-Policy", content_security_policy(
        embed=embed, docs=request.endpoint in DOC_ENDPOINTS))
    if not embed:
        response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    return response


def init_headers(app: Flask) -> None:
    app.after_request(security_headers)
