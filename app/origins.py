"""The one vocabulary of where entries come from (`Source.origin`) and how it is named.

Origins are `osm`, `demo`, `manual`, `csv:<name>`, `remote:<instance>` and
`source:<name>` (a registered source, named by its registry label). Exports credit
a source in English (`credit`), pages name it in the reader's language (`label`);
both come from the same table, so a new origin is added once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from .identity import site_name

OSM_URL = "https://www.openstreetmap.org/"
OSM_COPYRIGHT = "https://www.openstreetmap.org/copyright"
OSM_LICENCE = "© OpenStreetMap contributors, ODbL"


@dataclass(frozen=True)
class Origin:
    """How one kind of origin is credited (`credit`) and shown (`label`), given its name."""

    credit: Callable[[str], str]
    label: Callable[[str], str]
    # Our own editors' work needs no credit line beside the publisher.
    ours: bool = False


_FIXED = {
    "osm": Origin(lambda _: "OpenStreetMap contributors", lambda _: "OpenStreetMap"),
    "demo": Origin(lambda _: "Atlas des communs demo data",
                   lambda _: str(_l("Atlas des communs demo data")), ours=True),
    "manual": Origin(lambda _: f"{site_name()} editors",
                     lambda _: str(_l("Entered by the editors")), ours=True),
}
_PREFIXED = {
    "csv:": Origin(lambda name: f"CSV import {name}",
                   lambda name: str(_l("CSV import “%(name)s”", name=name))),
    "remote:": Origin(lambda name: f"Instance {name}", lambda name: _registered(name, name)),
    "source:": Origin(lambda name: _registered(name, name), lambda name: _registered(name, name)),
}


def _registered(name: str, default: str) -> str:
    """A registered source's label (app.sources), by its name."""
    from sqlalchemy import select

    from .extensions import db
    from .models import RegisteredSource

    found = db.session.scalar(select(RegisteredSource.label).where(
        RegisteredSource.name == name))
    return found or default


def _lookup(origin: str) -> tuple[Origin | None, str]:
    if origin in _FIXED:
        return _FIXED[origin], origin
    for prefix, kind in _PREFIXED.items():
        if origin.startswith(prefix):
            return kind, origin[len(prefix):]
    return None, origin


def credit(origin: str) -> str:
    """The English credit line of an origin, as exports print it."""
    kind, name = _lookup(origin)
    return kind.credit(name) if kind else origin


def label(origin: str) -> str:
    """A reader's name for where an entry came from, in the page's language."""
    kind, name = _lookup(origin)
    return kind.label(name) if kind else origin


def is_ours(origin: str) -> bool:
    kind, _ = _lookup(origin)
    return bool(kind and kind.ours)


def record_link(origin: str, external_id: str) -> str | None:
    """A link to the record at its source, where there is a public one."""
    if origin == "osm" and external_id.split("/")[0] in ("node", "way", "relation"):
        return OSM_URL + external_id
    return None


def licence_shown(origin: str, licence: str | None) -> str | None:
    """The licence a page shows beside a source: its own, or OpenStreetMap's."""
    if licence:
        return licence
    return OSM_LICENCE if origin == "osm" else None
