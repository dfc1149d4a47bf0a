"""CORS: any site may read the machine-facing parts (/api, /ogc); nothing else is shared."""

from __future__ import annotations

from flask import Flask
from flask_cors import CORS


def init_cors(app: Flask) -> None:
    """Reads only (GET, HEAD, OPTIONS), from any origin, validators and links exposed."""
    CORS(app, resources={r"/api/*": {}, r"/ogc": {}, r"/ogc/*": {}},
         origins="*", methods=["GET", "HEAD", "OPTIONS"], allow_headers="*",
         expose_headers=["ETag", "Last-Modified", "Link", "Content-Length"],
         max_age=86400, send_wildcard=True, vary_header=False)
