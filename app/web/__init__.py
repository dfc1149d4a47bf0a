"""HTML pages for citizens."""

from flask import Blueprint

bp = Blueprint("web", __name__)

from . import imports, views  # noqa: E402,F401
