"""OGC API – Features under /ogc: `views` speaks the protocol, `provider` reads the data."""

from __future__ import annotations

from flask import Flask


def init_ogc(app: Flask) -> None:
    from .views import bp

    app.register_blueprint(bp)
