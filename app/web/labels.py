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
               "relevance": _l("Relevance"), "distance": _l("Distance")}

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


def distance_text(metres: float) -> str:
    """"12 m", "1,3 km", "24 km": how far, in the page's language (as map.js writes it)."""
    from flask_babel import format_decimal, gettext

    if metres < 1000:
        return gettext("%(n)s m", n=format_decimal(round(metres)))
    km = round(metres / 1000, 1) if metres < 10_000 else round(metres / 1000)
    return gettext("%(n)s km", n=format_decimal(km))
