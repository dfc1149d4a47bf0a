"""OSM tags to a Candidate: the attribute mapping shared by the Overpass and file readers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .geo import commune_at
from .mapping import OsmMapping, first_value, normalise_website
from .records import Candidate

OSM_TYPES = {"n": "node", "w": "way", "r": "relation",
             "node": "node", "way": "way", "relation": "relation"}
# Mapped values with no entry field: kept in the Source with the raw tags.
EXTRA_KEYS = ("operator", "check_date")
# Identifiers of other registers (app/identifiers.py) and the tags that hold them.
IDENTIFIER_TAGS = {"siret": ("ref:FR:SIRET",), "rna": ("ref:FR:RNA",),
                   "wikidata": ("wikidata",)}


def _first(tags: Mapping[str, str], *keys: str) -> str | None:
    for key in keys:
        value = first_value(tags.get(key))
        if value:
            return value
    return None


FULL_ADDRESS = re.compile(r"^(?P<street>.*?)[,\s]+(?P<postcode>\d{5})\s+(?P<city>[^,]+?)\s*$")


def _address(tags: Mapping[str, str]) -> dict[str, str | None]:
    """street, postcode, city from addr:*; addr:full ("5 rue X, 59000 Lille") as fallback."""
    street = tags.get("addr:street") or tags.get("addr:place")
    number = tags.get("addr:housenumber")
    out: dict[str, str | None] = {
        "street": (f"{number} {street}".strip() if number else street.strip())
        if street else None,
        "postcode": tags.get("addr:postcode"), "city": tags.get("addr:city")}
    full = (tags.get("addr:full") or "").strip()
    if full:
        match = FULL_ADDRESS.match(full)
        parts = match.groupdict() if match else {"street": full}
        for key, value in parts.items():
            out[key] = out[key] or value.strip(" ,") or None
    return out


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
    address = _address(tags)
    extra = {k: tags[k] for k in EXTRA_KEYS if tags.get(k)}
    if not address["city"] and lon is not None and lat is not None:
        address["city"] = commune_at(lon, lat)
        if address["city"]:
            extra["city_from"] = "nearest GeoNames place"
    country = tags.get("addr:country")
    data: dict[str, Any] = {
        "kind": kind,
        "name": name,
        "lon": lon,
        "lat": lat,
        **address,
        "country": country.upper() if country else None,
        "website": normalise_website(_first(tags, "website", "contact:website", "url")),
        "email": _first(tags, "email", "contact:email"),
        "phone": _first(tags, "phone", "contact:phone"),
        "opening_hours": tags.get("opening_hours"),
        "description": tags.get("description"),
        **{field: _first(tags, *keys) for field, keys in IDENTIFIER_TAGS.items()},
        "osm_object": external_id,
        "tags": slugs,
    }
    data = {k: v for k, v in data.items() if v is not None and v != ""}
    data.setdefault("tags", [])
    return Candidate(external_id=external_id, data=data, raw=dict(tags), extra=extra)
