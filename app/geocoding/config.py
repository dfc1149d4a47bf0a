"""The address service's settings (ATLAS_GEOCODER_URL and the others), read at start; a
bad value stops it."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from ..config import ConfigurationError

# The Base Adresse Nationale's API (adresse.data.gouv.fr/api-doc/adresse): /search/,
# /reverse/, /search/csv/. A self-hosted addok answers the same paths.
DEFAULT_URL = "https://api-adresse.data.gouv.fr"


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float
            ) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {low} and {high}, got {raw!r}")
    return value


def settings(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if env is None else env
    url = (env.get("ATLAS_GEOCODER_URL") or "").strip() or DEFAULT_URL
    if not re.match(r"^https?://[^\s/]+", url, re.IGNORECASE):
        raise ConfigurationError(f"ATLAS_GEOCODER_URL must be an http(s) address, got {url!r}")
    return {
        "GEOCODER_URL": url.rstrip("/"),
        "GEOCODER_TIMEOUT": _number(env, "ATLAS_GEOCODER_TIMEOUT", 10, 0.1, 600),
        "GEOCODER_RETRIES": int(_number(env, "ATLAS_GEOCODER_RETRIES", 2, 0, 10)),
        # Below this score (0…1) an answer is reported and its position not used.
        "GEOCODER_MIN_SCORE": _number(env, "ATLAS_GEOCODER_MIN_SCORE", 0.5, 0, 1),
        "GEOCODER_BATCH_ROWS": int(_number(env, "ATLAS_GEOCODER_BATCH_ROWS", 5000, 1,
                                           100_000)),
        # Days an answer is kept before the same question is asked again.
        "GEOCODER_CACHE_DAYS": int(_number(env, "ATLAS_GEOCODER_CACHE_DAYS", 30, 1, 3650)),
        "ADDRESS_SEARCH_RATE_LIMIT": (env.get("ATLAS_ADDRESS_SEARCH_RATE_LIMIT")
                                      or "20 per minute;300 per hour"),
    }
