"""The home page: the map comes with the public map issue; for now, the directory."""

from flask import render_template

from ..query import EntryFilter, count_entries, search_entries
from . import bp


@bp.get("/")
def index():
    entries = search_entries(EntryFilter(), sort="name", limit=1000)
    return render_template("index.html", entries=entries, total=count_entries(EntryFilter()))
