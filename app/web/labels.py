"""Interface words for the closed vocabularies (kinds, statuses, relations, sources)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp

# Colour-blind safe (Okabe–Ito), each with at least 3:1 contrast on white.
KIND_COLOURS = {"third_place": "#c45100", "initiative": "#0072b2", "commons": "#007a5a"}
KIND_LABELS = {"third_place": _l("Third place"), "initiative": _l("Initiative"),
               "commons": _l("Commons")}
KIND_PLURALS = {"third_place": _lp("plural", "Third places"),
                "initiative": _lp("plural", "Initiatives"), "commons": _lp("plural", "Commons")}
STATUS_LABELS = {"active": _l("Active"), "planned": _l("Planned"), "closed": _l("Closed")}
TAG_GROUP_LABELS = {"activity": _l("Activities"), "theme": _l("Themes"),
                    "audience": _l("Audiences")}
SORT_LABELS = {"name": _l("Name"), "-updated": _l("Recently updated"),
               "relevance": _l("Relevance")}

# Relations seen from the entry's page: (direction, type) -> section title, in page order.
# "out" is this entry's own link (it uses Loomio), "in" another's link to it.
RELATION_SECTIONS = (
    (("in", "hosted_by"), _l("Around this place")),
    (("out", "uses"), _l("Uses")),
    (("in", "uses"), _l("Used by")),
    (("out", "hosted_by"), _l("Hosted by")),
    (("out", "part_of"), _l("Part of")),
    (("in", "part_of"), _l("Brings together")),
    (("both", "partner_of"), _l("Partners")),
    (("out", "inspired_by"), _l("Inspired by")),
    (("in", "inspired_by"), _l("Has inspired")),
)

OSM_URL = "https://www.openstreetmap.org/"
OSM_LICENCE = "© OpenStreetMap contributors, ODbL"


def source_label(origin: str) -> str:
    """A reader's name for where an entry came from."""
    if origin == "osm":
        return "OpenStreetMap"
    if origin == "demo":
        return str(_l("Atlas des communs demo data"))
    if origin == "manual":
        return str(_l("Entered by the editors"))
    if origin.startswith("csv:"):
        return str(_l("CSV import “%(name)s”", name=origin[4:]))
    if origin.startswith("remote:"):
        return origin[7:]
    return origin


def source_link(origin: str, external_id: str) -> str | None:
    """A link to the record at its source, where there is a public one."""
    if origin == "osm" and external_id.split("/")[0] in ("node", "way", "relation"):
        return OSM_URL + external_id
    return None


def source_licence(origin: str, licence: str | None) -> str | None:
    if licence:
        return licence
    return OSM_LICENCE if origin == "osm" else None
