"""OSM tags to a Candidate: the attribute mapping shared by the Overpass and file readers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .geo import commune_at
from .mapping import OsmMapping, first_value, normalise_website
from .records import Candidate

OSM_TYPES = {"n": "node", "w": "way", "r": "relation",
             "node": "node", "way": "way", "relation": "relation"}
# Mapped values with no entry field: kept in the Source with the raw tags.
EXTRA_KEYS = ("wikidata", "operator", "check_date")


def _first(tags: Mapping[str, str], *keys: str) -> str | None:
    for key in keys:
        value = first_value(tags.get(key))
        if value:
            return value
    return None


def _street(tags: Mapping[str, str]) -> str | None:
    street = tags.get("addr:street") or tags.get("addr:place")
    if street:
        number = tags.get("addr:housenumber")
        return f"{number} {street}".strip() if number else street.strip()
    return first_value(tags.get("addr:full"), "")


def candidate_from_tags(mapping: OsmMapping, osm_type: str, osm_id: int,
                        tags: Mapping[str, str], lon: float | None, lat: float | None
                        ) -> Candidate | None:
    """The Candidate for one OSM object, or None when no rule of the mapping selects it."""
    classified = mapping.classify(tags)
    if classified is None:
        return None
    rule, slugs = classified
    kind = rule.kind or "third_place"
    external_id = f"{OSM_TYPES[osm_type]}/{osm_id}"
    name = (tags.get("name") or tags.get("official_name") or rule.default_name
            or "").strip()
    city = tags.get("addr:city")
    if not city and lon is not None and lat is not None:
        city = commune_at(lon, lat)
    country = tags.get("addr:country")
    data: dict[str, Any] = {
        "kind": kind,
        "name": name,
        "lon": lon,
        "lat": lat,
        "street": _street(tags),
        "postcode": tags.get("addr:postcode"),
        "city": city,
        "country": country.upper() if country else None,
        "website": normalise_website(_first(tags, "website", "contact:website", "url")),
        "email": _first(tags, "email", "contact:email"),
        "phone": _first(tags, "phone", "contact:phone"),
        "opening_hours": tags.get("opening_hours"),
        "description": tags.get("description"),
        "tags": slugs,
    }
    data = {k: v for k, v in data.items() if v is not None and v != ""}
    data.setdefault("tags", [])
    extra = {k: tags[k] for k in EXTRA_KEYS if tags.get(k)}
    return Candidate(external_id=external_id, data=data, raw=dict(tags), extra=extra)
