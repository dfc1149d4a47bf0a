"""Positions: parsing, Lambert-93, swapped pairs, and the commune of a point."""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from app.identity import LILLE_BBOX, places_file
from app.territory import Territory, territory

if TYPE_CHECKING:
    from pyproj import Transformer

# The Lille metropolitan area with a margin: (min lon, min lat, max lon, max lat).
LILLE_AREA = LILLE_BBOX
# A commune is named from the nearest GeoNames point only within this distance.
COMMUNE_MAX_METRES = 4000
WKT_POINT = re.compile(
    r"^\s*(?:SRID=(\d+);)?\s*POINT\s*Z?\s*\(\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)(?:\s+[-+0-9.eE]+)?\s*\)\s*$",
    re.IGNORECASE)


class PositionError(ValueError):
    """A coordinate that cannot be read; the message says why."""


def default_territory() -> Territory:
    """The instance's territory (app/territory.py: ATLAS_TERRITORY over its box)."""
    return territory()


def parse_number(text: str | None, field: str) -> float | None:
    """A decimal number written with a point or a comma ("50,63"); blank is None."""
    if text is None or not text.strip():
        return None
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        value = float(cleaned)
    except ValueError:
        raise PositionError(f"{field}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise PositionError(f"{field}: {text!r} is not a finite number")
    return value


def parse_wkt_point(text: str | None) -> tuple[float, float, int | None] | None:
    """(x, y, srid or None) from "POINT(x y)" or "SRID=2154;POINT(x y)"; blank is None."""
    if text is None or not text.strip():
        return None
    match = WKT_POINT.match(text)
    if match is None:
        raise PositionError(f"{text[:60]!r} is not a WKT POINT(lon lat)")
    srid = int(match.group(1)) if match.group(1) else None
    return float(match.group(2)), float(match.group(3)), srid


@cache
def _transformer(crs: str) -> Transformer:
    from pyproj import Transformer  # here, not at every start of the app (test_modes)

    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def to_wgs84(x: float, y: float, crs: str) -> tuple[float, float]:
    """(lon, lat) in WGS 84 from (x, y) in `crs` ("EPSG:2154" for Lambert-93)."""
    if crs.upper() in ("EPSG:4326", "WGS84"):
        return x, y
    lon, lat = _transformer(crs).transform(x, y)
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise PositionError(f"({x}, {y}) is outside the area of {crs}")
    return lon, lat


def check_lonlat(lon: float, lat: float, territory: Territory | None
                 ) -> tuple[float, float, str | None]:
    """(lon, lat, note): swaps a pair written lat-first when only the swap is in the territory.

    Lille's (3.06, 50.63) swapped is (50.63, 3.06), a valid point in the Indian Ocean:
    only the territory tells them apart.
    """
    valid = -180 <= lon <= 180 and -90 <= lat <= 90
    swapped_valid = -180 <= lat <= 180 and -90 <= lon <= 90
    if territory is not None:
        if valid and territory.contains(lon, lat):
            return lon, lat, None
        if swapped_valid and territory.contains(lat, lon):
            return lat, lon, "latitude and longitude were swapped; corrected"
        if valid:  # outside: the pipeline reports it (importers.prepare)
            return lon, lat, None
    elif valid:
        return lon, lat, None
    raise PositionError(f"({lon}, {lat}) is not a longitude/latitude pair")


@dataclass(frozen=True)
class Place:
    name: str
    lon: float
    lat: float


def _places() -> tuple[Place, ...]:
    """The places of the configured file (ATLAS_PLACES_FILE; the Lille area's when unset)."""
    return _read_places(places_file())


@cache
def _read_places(path: Path) -> tuple[Place, ...]:
    """The rows (name, lat, lon) of a places file; a bad one is refused naming its line."""
    places = []
    with path.open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            try:
                place = Place(row["name"].strip(), float(row["lon"]), float(row["lat"]))
            except (KeyError, AttributeError, TypeError, ValueError):
                raise ValueError(f"ATLAS_PLACES_FILE {path}, line {line}: a place needs a "
                                 f"name and a decimal lat and lon, got {dict(row)!r}") from None
            if not place.name or not (-180 <= place.lon <= 180 and -90 <= place.lat <= 90):
                raise ValueError(f"ATLAS_PLACES_FILE {path}, line {line}: no name or a "
                                 f"position out of range, got {dict(row)!r}")
            places.append(place)
    return tuple(places)


# Places in cells of GRID_DEG degrees of latitude, and as many degrees of longitude as
# make a cell at least as wide (at the file's farthest latitude from the equator): the
# 3 x 3 cells around a point then hold every place within COMMUNE_MAX_METRES.
GRID_DEG = 0.06


@dataclass(frozen=True)
class _Grid:
    lon_step: float
    cells: dict[tuple[int, int], tuple[Place, ...]]

    def cell(self, lon: float, lat: float) -> tuple[int, int]:
        return int(lon // self.lon_step), int(lat // GRID_DEG)


def _grid() -> _Grid:
    return _grid_of(places_file())


@cache
def _grid_of(path: Path) -> _Grid:
    places = _read_places(path)
    widest = max((abs(p.lat) for p in places), default=0.0)
    lon_step = min(360.0, GRID_DEG / max(math.cos(math.radians(min(widest + 1, 89.9))),
                                         0.0001))
    grid = _Grid(lon_step, {})
    cells: dict[tuple[int, int], list[Place]] = {}
    for place in places:
        cells.setdefault(grid.cell(place.lon, place.lat), []).append(place)
    grid.cells.update({k: tuple(v) for k, v in cells.items()})
    return grid


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Equirectangular distance: exact enough at the scale of a commune."""
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    y = math.radians(lat2 - lat1)
    return 6_371_008.8 * math.hypot(x, y)


def commune_at(lon: float, lat: float) -> str | None:
    """The nearest place of the places file within COMMUNE_MAX_METRES, else None."""
    grid = _grid()
    cx, cy = grid.cell(lon, lat)
    best, best_d = None, float(COMMUNE_MAX_METRES)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for place in grid.cells.get((cx + dx, cy + dy), ()):
                d = distance_m(lon, lat, place.lon, place.lat)
                if d <= best_d:
                    best, best_d = place.name, d
    return best


def commune_at_slowly(lon: float, lat: float) -> str | None:
    """commune_at by a scan of every place: what the grid must agree with (tests)."""
    best, best_d = None, float(COMMUNE_MAX_METRES)
    for place in _places():
        d = distance_m(lon, lat, place.lon, place.lat)
        if d <= best_d:
            best, best_d = place.name, d
    return best
