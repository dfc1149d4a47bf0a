"""The territory of an instance: where its places are, one notion for the map and the importers.

Two settings: ATLAS_TERRITORY_BBOX, the box the map opens on and Overpass is asked
about (app/identity.py; Lille's when unset), and ATLAS_TERRITORY, what is inside:
`departments:59,62`, `communes:59350,59512`, or a GeoJSON file of (multi)polygons
(whose bounds are then the box when ATLAS_TERRITORY_BBOX is unset). Unset, the box
alone is the territory.

An object is inside when its INSEE code is in the listed departments or communes, else
(no code) when its position is in the polygon or the box. The importers report an
object outside ("outside the territory") and do not import it, unless the run says
`--anywhere`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .config import ConfigurationError

KINDS = ("departments", "communes")


def department_of(insee_code: str) -> str:
    """The department of an INSEE commune code (971xx → 971; 2Axxx → 2A)."""
    return insee_code[:3] if insee_code.startswith("97") else insee_code[:2]


@dataclass(frozen=True)
class Territory:
    """A box, and optionally the departments, communes or polygon that make it precise."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
    departments: frozenset[str] = frozenset()
    communes: frozenset[str] = frozenset()
    polygon: Any = field(default=None, compare=False)  # a shapely geometry

    def __str__(self) -> str:
        box = f"{self.min_lon},{self.min_lat},{self.max_lon},{self.max_lat}"
        if self.departments:
            return f"departments {','.join(sorted(self.departments))} (box {box})"
        if self.communes:
            return f"communes {','.join(sorted(self.communes))} (box {box})"
        return f"polygon (box {box})" if self.polygon is not None else box

    def contains(self, lon: float, lat: float) -> bool:
        """Whether the position is in the polygon, else in the box."""
        if self.polygon is not None:
            from shapely import Point

            return bool(self.polygon.covers(Point(lon, lat)))
        return self.min_lon <= lon <= self.max_lon and self.min_lat <= lat <= self.max_lat

    def holds(self, lon: float | None, lat: float | None, insee_code: str | None
              ) -> bool | None:
        """Whether an object is inside: by its commune when the territory lists some and
        the object has a code, else by its position; None when nothing tells."""
        if insee_code and self.communes:
            return insee_code in self.communes
        if insee_code and self.departments:
            return department_of(insee_code) in self.departments
        if lon is None or lat is None:
            return None
        return self.contains(lon, lat)

    def as_box(self) -> list[float]:
        return [self.min_lon, self.min_lat, self.max_lon, self.max_lat]

    @classmethod
    def parse(cls, value: str | list[float] | tuple[float, ...]) -> Territory:
        """A box from "min_lon,min_lat,max_lon,max_lat" or a list of four numbers."""
        parts = value.split(",") if isinstance(value, str) else list(value)
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"A territory is min_lon,min_lat,max_lon,max_lat; got {value!r}"
                             ) from None
        if len(numbers) != 4 or numbers[0] >= numbers[2] or numbers[1] >= numbers[3]:
            raise ValueError(f"A territory is min_lon,min_lat,max_lon,max_lat; got {value!r}")
        return cls(*numbers)


def read_polygon(path: str, variable: str = "ATLAS_TERRITORY") -> Any:
    """The union of the (multi)polygons of a GeoJSON file; the error names `variable`."""
    from shapely import unary_union
    from shapely.geometry import shape

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        items = data.get("features", [data]) if isinstance(data, dict) else []
        shapes = [shape(item.get("geometry", item)) for item in items]
    except (OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise ConfigurationError(f"{variable}: {path!r} is not a readable GeoJSON file "
                                 f"of polygons ({exc})") from None
    shapes = [s for s in shapes if s.geom_type in ("Polygon", "MultiPolygon")]
    if not shapes:
        raise ConfigurationError(f"{variable}: {path!r} holds no Polygon or MultiPolygon")
    return unary_union(shapes)


def parse_territory(value: str | None, box: list[float], variable: str = "ATLAS_TERRITORY"
                    ) -> Territory:
    """ATLAS_TERRITORY's value over the box; a bad value names the variable."""
    value = (value or "").strip()
    if not value:
        return Territory(*box)
    kind, sep, items = value.partition(":")
    if sep and kind in KINDS:
        codes = frozenset(c.strip().upper() for c in items.split(",") if c.strip())
        pattern = r"(?:\d{2}|2A|2B|97\d)" if kind == "departments" else r"(?:\d{2}|2A|2B)\d{3}"
        import re

        bad = sorted(c for c in codes if not re.fullmatch(pattern, c))
        if not codes or bad:
            raise ConfigurationError(f"{variable}: {kind} must be a comma-separated list of "
                                     f"codes (such as {kind}:59,62 or communes:59350), "
                                     f"got {value!r}")
        return Territory(*box, **{kind: codes})
    if Path(value).is_file():
        polygon = read_polygon(value, variable)
        return Territory(*box, polygon=polygon)
    raise ConfigurationError(f"{variable} must be departments:CODES, communes:CODES or a "
                             f"GeoJSON file of polygons, got {value!r}")


def settings(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The territory's part of the app configuration (the box is app/identity.py's)."""
    env = os.environ if env is None else env
    value = (env.get("ATLAS_TERRITORY") or "").strip() or None
    if value:
        parse_territory(value, [0, 0, 1, 1])  # refused at start when wrong
    return {"TERRITORY": value}


def polygon_box(env: Mapping[str, str]) -> str | None:
    """The bounds of ATLAS_TERRITORY's polygon file as a box string, if it names one."""
    value = (env.get("ATLAS_TERRITORY") or "").strip()
    if not value or value.partition(":")[0] in KINDS or not Path(value).is_file():
        return None
    bounds = read_polygon(value).bounds
    return ",".join(str(b) for b in bounds)


def territory() -> Territory:
    """The instance's territory: the app's configuration, else the environment's."""
    from flask import current_app, has_app_context

    from .identity import territory_bbox

    box = tuple(territory_bbox().as_list())
    if has_app_context():
        return _parsed(current_app.config.get("TERRITORY"), box)
    return _parsed(os.environ.get("ATLAS_TERRITORY"), box)


@lru_cache(maxsize=8)
def _parsed(value: str | None, box: tuple[float, ...]) -> Territory:
    return parse_territory(value, list(box))
