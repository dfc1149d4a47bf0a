"""The map (`/`) and the embeddable map (`/embed`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from flask import abort, current_app, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..http.locale import locale_code
from ..models import Entry
from ..models.vocab import ENTRY_KINDS
from ..query import pyramid, search_entries
from ..query.filters import MAX_RADIUS_M
from . import bp
from .directory import page_number
from .filtering import filter_query, form_state, request_filter
from .labels import KIND_COLOURS, KIND_LABELS
from .per_state import map_count, map_facets, per_state


def js_strings() -> dict[str, Any]:
    """The words map.js shows, translated here so the script holds none."""
    return {
        "inView": {"one": _("%(n)s entry in this view"), "other": _("%(n)s entries in this view")},
        "more": _("The first %(shown)s are listed: zoom in or refine the search for the others."),
        "unlocated": {
            "one": _("%(n)s matching entry has no place on the map (a digital commons, "
                     "for instance)."),
            "other": _("%(n)s matching entries have no place on the map (digital commons, "
                       "for instance)."),
        },
        "seeDirectory": _("See them in the directory"),
        "cluster": {"one": _("%(n)s entry here, zoom in"),
                    "other": _("%(n)s entries here, zoom in")},
        "samePlace": _("%(n)s entries at this place"),
        "showOnMap": _("Show %(name)s on the map"),
        "show": _("Map"),
        "loading": _("Loading the entries…"),
        "loadError": _("The entries could not be loaded. Try again later, or use the directory."),
        "tilesDown": _("The background map cannot be reached; the entries are still shown."),
        "geoError": _("Your position could not be found."),
        "youAreHere": _("You are here"),
        "zoomIn": _("Zoom in"),
        "zoomOut": _("Zoom out"),
        "legend": _("Legend"),
        "metres": _("%(n)s m"),
        "kilometres": _("%(n)s km"),
        "distanceFrom": _("%(distance)s from you"),
        "byDistance": _("Sorted by distance from you."),
        "addressFound": _("Centred on %(label)s.", label="{label}"),
        "addressUncertain": _("Uncertain match: centred on %(label)s.", label="{label}"),
        "addressNotFound": _("No place was found for this address."),
        "addressUnavailable": _("The address search cannot be reached just now."),
    }


def map_config(mode: str, **extra: Any) -> dict[str, Any]:
    """What map.js needs, passed as one JSON attribute (no inline script: see the CSP)."""
    config = current_app.config
    lat, lon = config["MAP_CENTER"]
    return {
        "mode": mode,
        "locale": locale_code(),
        "tiles": {"url": config["TILE_URL"], "attribution": config["TILE_ATTRIBUTION"]},
        "center": [lat, lon],
        "zoom": config["MAP_ZOOM"],
        "markersUrl": url_for("web.markers"),
        # Past MAP_FILE_MAX_MARKERS the markers document says so and map.js asks
        # for the clusters of the view's tiles here instead.
        "blocksUrl": url_for("web.map_blocks", z=0, x=0, y=0).replace("/0/0/0.", "/Z/X/Y."),
        "entryUrl": url_for("web.entry_page", ref="SLUG"),
        # The popup asks for one entry's public record when it opens (summary, address):
        # the markers document stays five values an entry.
        "recordUrl": url_for("api_v1.get_entry", ref="SLUG"),
        "openingUrl": url_for("web.entry_opening", ref="SLUG"),
        # The directory's "around me" radius, in metres (the API's maximum).
        "aroundRadius": MAX_RADIUS_M,
        "mapUrl": url_for("web.index"),
        "directoryUrl": url_for("web.directory"),
        "kinds": [{"id": k, "label": str(KIND_LABELS[k]), "colour": KIND_COLOURS[k]}
                  for k in ENTRY_KINDS],
        "strings": js_strings(),
        **extra,
    }


# Without JavaScript the map page lists this many entries a page.
NOSCRIPT_LIST = 20


@bp.get("/")
def index() -> str:
    """The map. With JavaScript it asks for its counts itself (the markers file's totals
    and facets, and the view's blocks): the page counts nothing the pyramid does not
    hold, so it answers at once and the file's count starts with it. Without, its
    `<noscript>` sends the visitor to `?page=1`: the same page with its form's counts and
    the entries by name, a page of NOSCRIPT_LIST at a time."""
    f = request_filter()
    config = map_config("full", addressSearchUrl=url_for("web.address_search"))
    if "page" not in request.args:
        facets = map_facets(f) if pyramid.serves(f) else None  # else map.js fills them in
        form = form_state(f, facets, locale_code())
        return render_template("web/map.html", form=form, map_config=config, listing=None,
                               list_query=filter_query(f, located=form.located, page="1"))
    page = page_number()
    form = form_state(f, map_facets(f), locale_code())
    total = map_count(f)
    pages = max(1, math.ceil(total / NOSCRIPT_LIST))
    if page > pages:
        abort(404)
    # The first by name cost a sort of every match (1.7 s at 1M): their ids are kept
    # per data state, the entries read by primary key.
    ids = per_state(("noscript", f, page), lambda: [
        e.id for e in search_entries(f, sort="name", limit=NOSCRIPT_LIST,
                                     offset=(page - 1) * NOSCRIPT_LIST)])
    return render_template(
        "web/map.html", form=form, map_config=config,
        listing=Listing(entries_in_order(ids), total, page, pages),
        page_query=lambda p: filter_query(f, located=form.located, page=str(p)))


@dataclass(frozen=True)
class Listing:
    """A page of the map's list for a visitor without JavaScript."""

    entries: list[Entry]
    total: int
    page: int
    pages: int

    @property
    def first(self) -> int:
        """The number of the page's first entry."""
        return (self.page - 1) * NOSCRIPT_LIST + 1


def entries_in_order(ids: list) -> list[Entry]:
    found = {e.id: e for e in db.session.scalars(select(Entry).where(Entry.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


@bp.get("/embed")
def embed() -> str:
    """The same map without the site around it, for a partner's iframe."""
    f = request_filter()
    # Its counts are map.js's to ask for (the markers file), as the map page's.
    return render_template("web/embed.html", query=filter_query(f),
                           map_config=map_config("embed"))
