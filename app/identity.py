"""The instance's identity: its name, territory, publisher and contact, read in one place.

Pages, the API and OGC documents, exports, mails and the importers name the site and
its territory through this module, so an association hosting its own atlas
(ATLAS_SITE_NAME, ATLAS_TERRITORY_BBOX…) never shows another's name or map. Unset,
everything is the Lille demo's. A bad value stops the start with a message naming
the variable: a wrong map or a wrong publisher must not go unnoticed.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app, has_app_context
from markupsafe import Markup

from .config import PROJECT_ROOT, ConfigurationError

DEFAULT_SITE_NAME = "Atlas des communs"
DEFAULT_TERRITORY_NAME = "Métropole européenne de Lille"
# The Lille metropolitan area with a margin: (min lon, min lat, max lon, max lat).
LILLE_BBOX = (2.78, 50.49, 3.30, 50.82)
# Today's map view of Lille, kept when no territory is configured.
LILLE_CENTER = (50.6329, 3.0586)
LILLE_ZOOM = 12
DEFAULT_PLACES_FILE = PROJECT_ROOT / "data" / "places" / "geonames-lille-area.csv"
# The map's size the initial zoom is chosen for (a laptop's map pane).
VIEW_PX = (900, 600)
EMAIL = re.compile(r"^[^@\s<>\"'&]+@[^@\s<>\"'&]+\.[^@\s<>\"'&]+$")


@dataclass(frozen=True)
class Bbox:
    """A lon/lat box in WGS 84."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    @property
    def center(self) -> tuple[float, float]:
        """(lat, lon) of the middle, as Leaflet takes it."""
        return (self.min_lat + self.max_lat) / 2, (self.min_lon + self.max_lon) / 2

    def fitting_zoom(self, width: int = VIEW_PX[0], height: int = VIEW_PX[1]) -> int:
        """The largest web-map zoom at which the whole box fits in width × height pixels."""
        def y(lat: float) -> float:  # Web Mercator, in turns
            return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) / (2 * math.pi)
        x_span = (self.max_lon - self.min_lon) / 360
        y_span = y(self.max_lat) - y(self.min_lat)
        zoom = min(math.log2(width / 256 / x_span), math.log2(height / 256 / y_span))
        return max(2, min(18, math.floor(zoom)))

    def as_list(self) -> list[float]:
        return [self.min_lon, self.min_lat, self.max_lon, self.max_lat]


def parse_bbox(value: str, variable: str) -> Bbox:
    """"min_lon,min_lat,max_lon,max_lat"; the error names `variable` and says what is wrong."""
    parts = [p.strip() for p in value.split(",")]
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise ConfigurationError(f"{variable} must be four numbers min_lon,min_lat,max_lon,"
                                 f"max_lat (e.g. 2.78,50.49,3.30,50.82), got {value!r}")
    box = Bbox(*numbers)
    if not (-180 <= box.min_lon < box.max_lon <= 180 and -90 <= box.min_lat < box.max_lat <= 90):
        raise ConfigurationError(
            f"{variable} must be min_lon,min_lat,max_lon,max_lat with min < max, longitudes "
            f"in -180…180 and latitudes in -90…90, got {value!r} (lat and lon swapped, or "
            f"the corners inverted?)")
    return box


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name) or "").strip()
    return value or None


def _url(env: Mapping[str, str], name: str) -> str | None:
    value = _text(env, name)
    if value and not re.match(r"^https?://[^\s/]+", value, re.IGNORECASE):
        raise ConfigurationError(f"{name} must be an http(s) address, got {value!r}")
    return value


def _file(env: Mapping[str, str], name: str) -> str | None:
    value = _text(env, name)
    if value and not Path(value).is_file():
        raise ConfigurationError(f"{name} names {value!r}, which is not a readable file")
    return value


def _number(env: Mapping[str, str], name: str) -> float | None:
    raw = _text(env, name)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None


def settings(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The identity's part of the app configuration, from the environment."""
    env = os.environ if env is None else env
    from .territory import polygon_box

    site = _text(env, "ATLAS_SITE_NAME") or DEFAULT_SITE_NAME
    # The box; unset, the bounds of ATLAS_TERRITORY's polygon (app/territory.py) if any.
    raw_bbox = _text(env, "ATLAS_TERRITORY_BBOX") or polygon_box(env)
    bbox = parse_bbox(raw_bbox, "ATLAS_TERRITORY_BBOX") if raw_bbox else Bbox(*LILLE_BBOX)
    contact = _text(env, "ATLAS_CONTACT_EMAIL")
    if contact and not EMAIL.match(contact):
        raise ConfigurationError(f"ATLAS_CONTACT_EMAIL must be an email address, got {contact!r}")
    # The map: an explicit centre and zoom win; else the territory's middle, at the zoom
    # that shows all of it; unset, Lille's view as it always was.
    lat, lon = _number(env, "ATLAS_MAP_LAT"), _number(env, "ATLAS_MAP_LON")
    if (lat is None) != (lon is None):
        raise ConfigurationError("ATLAS_MAP_LAT and ATLAS_MAP_LON go together: set both "
                                 "or neither (neither: the middle of ATLAS_TERRITORY_BBOX)")
    if lat is not None and lon is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ConfigurationError(f"ATLAS_MAP_LAT must be in -90…90 and ATLAS_MAP_LON in "
                                 f"-180…180, got {lat}, {lon}")
    zoom = _number(env, "ATLAS_MAP_ZOOM")
    if zoom is not None and not 0 <= zoom <= 19:
        raise ConfigurationError(f"ATLAS_MAP_ZOOM must be between 0 and 19, got {zoom}")
    if lat is not None and lon is not None:
        center = (lat, lon)
    else:
        center = bbox.center if raw_bbox else LILLE_CENTER
    if zoom is None:
        zoom = bbox.fitting_zoom() if raw_bbox else LILLE_ZOOM
    return {
        "SITE_NAME": site,
        "SITE_TAGLINE": _text(env, "ATLAS_SITE_TAGLINE"),
        "TERRITORY_NAME": _text(env, "ATLAS_TERRITORY_NAME") or (
            "" if raw_bbox else DEFAULT_TERRITORY_NAME),
        "TERRITORY_BBOX": bbox.as_list(),
        # Places whose nearest one names the commune of an imported point (importers.geo).
        "PLACES_FILE": _file(env, "ATLAS_PLACES_FILE") or str(DEFAULT_PLACES_FILE),
        "MAP_CENTER": center,
        "MAP_ZOOM": int(zoom),
        "PUBLISHER": _text(env, "ATLAS_PUBLISHER_NAME") or site,
        "PUBLISHER_URL": _url(env, "ATLAS_PUBLISHER_URL"),
        "CONTACT_EMAIL": contact,
        "LEGAL_NOTICE_FILE": _file(env, "ATLAS_LEGAL_NOTICE_FILE"),
        "PRIVACY_FILE": _file(env, "ATLAS_PRIVACY_FILE"),
    }


@dataclass(frozen=True)
class Identity:
    """Who runs this atlas and where: what templates, documents and exports name."""

    site_name: str
    tagline: str | None
    territory_name: str
    bbox: Bbox
    publisher: str
    publisher_url: str | None
    contact_email: str | None
    legal_notice_file: str | None
    privacy_file: str | None

    @property
    def contact_link(self) -> Markup | None:
        """The contact address as an escaped mailto link, for sentences that hold it."""
        if not self.contact_email:
            return None
        return Markup('<a href="mailto:{0}">{0}</a>').format(self.contact_email)


def identity(config: Mapping[str, Any] | None = None) -> Identity:
    """The identity of the current app (or of `config`)."""
    config = current_app.config if config is None else config
    site = config.get("SITE_NAME") or DEFAULT_SITE_NAME
    return Identity(
        site_name=site,
        tagline=config.get("SITE_TAGLINE"),
        territory_name=config.get("TERRITORY_NAME") or "",
        bbox=Bbox(*(config.get("TERRITORY_BBOX") or LILLE_BBOX)),
        publisher=config.get("PUBLISHER") or site,
        publisher_url=config.get("PUBLISHER_URL"),
        contact_email=config.get("CONTACT_EMAIL"),
        legal_notice_file=config.get("LEGAL_NOTICE_FILE"),
        privacy_file=config.get("PRIVACY_FILE"),
    )


def site_name() -> str:
    """The site's name (ATLAS_SITE_NAME), also outside an app (importers run without one)."""
    if has_app_context():
        return current_app.config.get("SITE_NAME") or DEFAULT_SITE_NAME
    return _text(os.environ, "ATLAS_SITE_NAME") or DEFAULT_SITE_NAME


def territory_bbox() -> Bbox:
    """The configured territory: the app's when there is one, else the environment's."""
    if has_app_context() and current_app.config.get("TERRITORY_BBOX"):
        return Bbox(*current_app.config["TERRITORY_BBOX"])
    from .territory import polygon_box

    raw = _text(os.environ, "ATLAS_TERRITORY_BBOX") or polygon_box(os.environ)
    return parse_bbox(raw, "ATLAS_TERRITORY_BBOX") if raw else Bbox(*LILLE_BBOX)


def places_file() -> Path:
    """The places file of the importers' commune lookup (ATLAS_PLACES_FILE)."""
    if has_app_context() and current_app.config.get("PLACES_FILE"):
        return Path(current_app.config["PLACES_FILE"])
    return Path(_file(os.environ, "ATLAS_PLACES_FILE") or DEFAULT_PLACES_FILE)


def slug(text: str) -> str:
    """A lower-case ASCII name for files and package names ("Atlas de Rennes" → atlas-de-rennes)."""
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "atlas"
