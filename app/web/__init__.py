"""HTML pages for citizens: the map, the directory, an entry's page, the embeddable map."""

from flask import Blueprint

bp = Blueprint("web", __name__)

from . import (  # noqa: E402,F401
    address_search,
    directory,
    entry,
    feed,
    imports,
    legal,
    map_cells,
    markers,
    pages,
    sheets,
    views,
)
