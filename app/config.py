"""Configuration from the environment, with defaults that serve Lille out of the box."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = ('&copy; <a href="https://www.openstreetmap.org/copyright">'
                   "OpenStreetMap</a> contributors")


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept under var/."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = PROJECT_ROOT / "var" / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


def from_environment() -> dict[str, Any]:
    """Settings read from the environment; DATABASE_URL unset means the local cluster."""
    return {
        "SECRET_KEY": _secret_key(),
        "DATABASE_URL": os.environ.get("DATABASE_URL") or None,
        "PORT": int(os.environ.get("PORT", "5000")),
        "TILE_URL": os.environ.get("ATLAS_TILE_URL", OSM_TILES),
        "TILE_ATTRIBUTION": os.environ.get("ATLAS_TILE_ATTRIBUTION", OSM_ATTRIBUTION),
        "MAP_CENTER": (_float("ATLAS_MAP_LAT", 50.6329), _float("ATLAS_MAP_LON", 3.0586)),
        "MAP_ZOOM": int(_float("ATLAS_MAP_ZOOM", 12)),
        "BABEL_DEFAULT_LOCALE": "fr",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Paris",
        "LANGUAGES": ("fr", "en"),
        # Interface strings are English msgids; translations/fr holds the French.
        "BABEL_TRANSLATION_DIRECTORIES": str(PROJECT_ROOT / "translations"),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "JSON_SORT_KEYS": False,
        # Exports and sync: the licence of our own data (an export that holds data from
        # an ODbL source is ODbL whatever this says), who publishes it, the public
        # address used in exports made outside a request, and this instance's name
        # for the platforms it pushes to (their sources read remote:<name>).
        "DATA_LICENCE": os.environ.get("ATLAS_DATA_LICENCE", "ODbL-1.0"),
        "PUBLISHER": os.environ.get("ATLAS_PUBLISHER", "Atlas des communs"),
        "BASE_URL": os.environ.get("ATLAS_BASE_URL") or None,
        "INSTANCE_NAME": os.environ.get("ATLAS_INSTANCE_NAME", "atlas"),
    }


def to_sqlalchemy_url(url: str) -> str:
    """Accept libpq-style URLs (postgres://, postgresql://) and pick our driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url
