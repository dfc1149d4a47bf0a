"""The entry filter, defined once and parsed once for every output.

HTML pages, the JSON and GeoJSON API, OGC API – Features and the exports all turn
their query parameters into one `EntryFilter` through `parse_filter`, so that a
filter means the same everywhere and a bad value gets the same clear error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Protocol

from ..models.vocab import ENTRY_KINDS, ENTRY_STATUSES, MODERATION_STATES

MAX_RADIUS_M = 200_000
DEFAULT_RADIUS_M = 1_000
MAX_TEXT_LENGTH = 200
SLUG_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class ParameterError(ValueError):
    """A query parameter that cannot be used; names the parameter and why."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True)
class Near:
    lon: float
    lat: float
    radius_m: float = DEFAULT_RADIUS_M


@dataclass(frozen=True)
class EntryFilter:
    """What a reader asks for. The defaults are what the public sees."""

    kinds: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    bbox: tuple[float, float, float, float] | None = None  # min lon, min lat, max lon, max lat
    near: Near | None = None
    text: str | None = None
    statuses: tuple[str, ...] = ()
    moderation: tuple[str, ...] = ("published",)
    updated_since: datetime | None = None
    updated_until: datetime | None = None  # inclusive; OGC API's `datetime` interval end
    # Equality on plain public fields, ((name, value), ...): OGC API property filters.
    properties: tuple[tuple[str, str], ...] = ()
    include_deleted: bool = False
    located: bool | None = None  # True: only entries with a position; False: only without
    extra: dict[str, str] = field(default_factory=dict, compare=False)


class Args(Protocol):
    def getlist(self, key: str) -> list[str]: ...


def _values(args: Args, name: str) -> list[str]:
    """Repeated and comma-separated values alike: ?tag=a&tag=b or ?tag=a,b."""
    out: list[str] = []
    for raw in args.getlist(name):
        out.extend(v.strip() for v in raw.split(",") if v.strip())
    return out


def _single(args: Args, name: str) -> str | None:
    values = [v for v in args.getlist(name) if v.strip()]
    if len(values) > 1:
        raise ParameterError(name, "give it once")
    return values[0].strip() if values else None


def _choices(args: Args, name: str, allowed: Iterable[str]) -> tuple[str, ...]:
    allowed = tuple(allowed)
    values = _values(args, name)
    for value in values:
        if value not in allowed:
            raise ParameterError(name, f"unknown value {value!r}; expected one of "
                                       f"{', '.join(allowed)}")
    return tuple(dict.fromkeys(values))


def _number(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ParameterError(name, f"{raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ParameterError(name, f"{raw!r} is not a finite number")
    return value


def check_lon(name: str, lon: float) -> float:
    if not -180 <= lon <= 180:
        raise ParameterError(name, f"longitude {lon:g} is outside -180..180")
    return lon


def check_lat(name: str, lat: float) -> float:
    if not -90 <= lat <= 90:
        raise ParameterError(name, f"latitude {lat:g} is outside -90..90")
    return lat


def parse_bbox(raw: str, name: str = "bbox") -> tuple[float, float, float, float]:
    """`minLon,minLat,maxLon,maxLat` (WGS 84, as OGC API says); may cross the antimeridian."""
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) != 4:
        raise ParameterError(name, f"expected 4 numbers (minLon,minLat,maxLon,maxLat), "
                                   f"got {len(parts)}")
    minlon, minlat, maxlon, maxlat = (_number(name, p) for p in parts)
    check_lon(name, minlon), check_lon(name, maxlon)
    check_lat(name, minlat), check_lat(name, maxlat)
    if minlat > maxlat:
        raise ParameterError(name, "the minimum latitude is above the maximum latitude")
    return (minlon, minlat, maxlon, maxlat)


def parse_near(raw: str, radius: str | None, name: str = "near") -> Near:
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) != 2:
        raise ParameterError(name, "expected lon,lat")
    lon = check_lon(name, _number(name, parts[0]))
    lat = check_lat(name, _number(name, parts[1]))
    radius_m = DEFAULT_RADIUS_M if radius is None else _number("radius", radius)
    if not 0 < radius_m <= MAX_RADIUS_M:
        raise ParameterError("radius", f"must be between 0 and {MAX_RADIUS_M} metres")
    return Near(lon, lat, radius_m)


def parse_datetime(raw: str, name: str) -> datetime:
    """ISO 8601 date or date-time; naive values are taken as UTC."""
    text = raw.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        try:
            value = datetime.combine(date.fromisoformat(text), datetime.min.time())
        except ValueError:
            raise ParameterError(name, f"{raw!r} is not an ISO 8601 date or date-time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_bool(raw: str, name: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ParameterError(name, f"{raw!r} is not a boolean (true or false)")


def parse_filter(args: Args, *, allow_private: bool = False,
                 tag_exists: Callable[[list[str]], list[str]] | None = None,
                 property_names: Iterable[str] = ()) -> EntryFilter:
    """Turn query parameters into an EntryFilter, or raise ParameterError.

    `allow_private` lets editors ask for pending or rejected entries and tombstones.
    `tag_exists`, given the tag slugs asked for, returns the unknown ones.
    `property_names` (some of PROPERTY_FILTERS) are read as equality filters.
    """
    tags = tuple(dict.fromkeys(_values(args, "tag")))
    for slug in tags:
        if not SLUG_RE.match(slug):
            raise ParameterError("tag", f"{slug!r} is not a tag slug")
    if tags and tag_exists is not None:
        unknown = tag_exists(list(tags))
        if unknown:
            raise ParameterError("tag", f"unknown tag {', '.join(map(repr, unknown))}")

    bbox_raw = _single(args, "bbox")
    near_raw = _single(args, "near")
    radius_raw = _single(args, "radius")
    if radius_raw is not None and near_raw is None:
        raise ParameterError("radius", "goes with near=lon,lat")
    text = _single(args, "q")
    if text is not None and len(text) > MAX_TEXT_LENGTH:
        raise ParameterError("q", f"longer than {MAX_TEXT_LENGTH} characters")
    since_raw = _single(args, "updated_since")
    located_raw = _single(args, "located")

    moderation: tuple[str, ...] = ("published",)
    include_deleted = False
    if allow_private:
        moderation = _choices(args, "moderation", MODERATION_STATES) or moderation
        deleted_raw = _single(args, "include_deleted")
        include_deleted = parse_bool(deleted_raw, "include_deleted") if deleted_raw else False

    return EntryFilter(
        kinds=_choices(args, "kind", ENTRY_KINDS),
        tags=tags,
        bbox=parse_bbox(bbox_raw) if bbox_raw else None,
        near=parse_near(near_raw, radius_raw) if near_raw else None,
        text=text or None,
        statuses=_choices(args, "status", ENTRY_STATUSES),
        moderation=moderation,
        updated_since=parse_datetime(since_raw, "updated_since") if since_raw else None,
        include_deleted=include_deleted,
        located=parse_bool(located_raw, "located") if located_raw else None,
        properties=parse_properties(args, property_names),
    )


# Plain text fields a reader may filter on by equality (?city=Lille): the OGC API
# declares them as query parameters, so that GDAL's -where reaches the server.
PROPERTY_FILTERS = ("slug", "city", "postcode", "country", "licence")


def parse_properties(args: Args, names: Iterable[str] = PROPERTY_FILTERS
                     ) -> tuple[tuple[str, str], ...]:
    """`?city=Lille` as (("city", "Lille"),); one value per property."""
    found = []
    for name in names:
        value = _single(args, name)
        if value is not None:
            if len(value) > MAX_TEXT_LENGTH:
                raise ParameterError(name, f"longer than {MAX_TEXT_LENGTH} characters")
            found.append((name, value))
    return tuple(found)


def parse_interval(raw: str, name: str = "datetime") -> tuple[datetime | None, datetime | None]:
    """OGC API's `datetime`: an instant, or `start/end` where either end may be `..` or empty."""
    if "/" not in raw:
        instant = parse_datetime(raw, name)
        return instant, instant
    parts = raw.split("/")
    if len(parts) != 2:
        raise ParameterError(name, "expected an instant or start/end")
    start, end = (None if p.strip() in ("", "..") else parse_datetime(p, name) for p in parts)
    if start is None and end is None:
        raise ParameterError(name, "an interval needs at least one end")
    if start is not None and end is not None and start > end:
        raise ParameterError(name, "the start is after the end")
    return start, end


FILTER_PARAMETERS = ("kind", "tag", "bbox", "near", "radius", "q", "status",
                     "updated_since", "located")
