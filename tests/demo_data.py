"""The demo file as the tests read it, to compute expected answers independently of SQL."""

from __future__ import annotations

import math
from functools import cache
from typing import Any

from app.demo import DEMO_FILE, read_demo

DEMO_PATH = DEMO_FILE


@cache
def demo() -> dict[str, Any]:
    return read_demo()


def entries() -> list[dict[str, Any]]:
    return demo()["entries"]


def located() -> list[dict[str, Any]]:
    return [e for e in entries() if "lon" in e]


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance on the mean Earth sphere (PostGIS geography uses the spheroid)."""
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))
