"""Readers of other platforms' answers: a GoGoCarto instance's elements API, an
OpenFairDB (Karte von morgen) entry list, a GeoJSON feature collection read with a
CSV mapping. Each turns an answer already fetched (app.sources.fetch) into
candidates for the one pipeline.

The formats are read from the platforms' own source:
- GoGoCarto (github.com/pixelhumain/GoGoCarto, APIController::getElementsAction and
  Element::updateJsonRepresentation): `GET /api/elements.json` answers
  `{"data": [element…], "ontology": "gogofull"}`; an element has `id`, `name`,
  `geo: {latitude, longitude}` (numbers or numeric strings), `address:
  {streetAddress, addressLocality, postalCode, addressCountry}`, `categories` and its
  custom fields at top level (`description`, `website`, `telephone`, `email`…);
  `bounds=min_lon,min_lat,max_lon,max_lat` and `token=` (a protected API).
- OpenFairDB (github.com/kartevonmorgen/openfairdb, openapi.yaml): `GET /search?
  bbox=lat1,lng1,lat2,lng2&limit=` answers `{visible: [{id, lat, lng, title…}],
  invisible: […]}`; `GET /entries/{id,id…}` answers full entries `{id, title,
  description, lat, lng, street, zip, city, country, email, telephone, homepage,
  opening_hours, categories, tags, license}`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from app.services.runs import Problem

from .csv_reader import candidate_from_row
from .mapping import CsvMapping, first_value, normalise_website
from .records import Candidate

GOGOCARTO_FIELDS = {"description": "description", "website": "website",
                    "telephone": "phone", "email": "email", "openHours": None}
OFDB_FIELDS = {"description": "description", "street": "street", "zip": "postcode",
               "city": "city", "email": "email", "telephone": "phone",
               "homepage": "website", "opening_hours": "opening_hours"}


class AnswerError(ValueError):
    """An answer that is not in the expected format; the message says what is wrong."""


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _country(value: Any) -> str | None:
    text = str(value or "").strip()
    return text.upper() if len(text) == 2 and text.isalpha() else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _located(data: dict[str, Any], lon: Any, lat: Any, external_id: str
             ) -> Problem | None:
    lon, lat = _number(lon), _number(lat)
    if lon is None or lat is None:
        return Problem("skipped", "no position in the answer", external_id=external_id)
    data["lon"], data["lat"] = lon, lat
    return None


def gogocarto_elements(answer: Any) -> list[dict[str, Any]]:
    """The elements of an elements API answer (`data`, or a bare list)."""
    elements = answer.get("data") if isinstance(answer, dict) else answer
    if not isinstance(elements, list):
        raise AnswerError("a GoGoCarto elements answer has a `data` list of elements")
    return elements


def read_gogocarto(answer: Any, kind: str) -> Iterator[Candidate | Problem]:
    """Candidates of the entry kind `kind` from a GoGoCarto elements answer."""
    for element in gogocarto_elements(answer):
        if not isinstance(element, dict) or not element.get("id"):
            yield Problem("rejected", "an element without an id")
            continue
        key = str(element["id"])
        data: dict[str, Any] = {"kind": kind, "name": _text(element.get("name"))}
        skipped = _located(data, (element.get("geo") or {}).get("longitude"),
                           (element.get("geo") or {}).get("latitude"), key)
        if skipped:
            yield skipped
            continue
        address = element.get("address") or {}
        data.update(street=_text(address.get("streetAddress")),
                    postcode=_text(address.get("postalCode")),
                    city=_text(address.get("addressLocality")),
                    country=_country(address.get("addressCountry")))
        for theirs, ours in GOGOCARTO_FIELDS.items():
            if ours and _text(element.get(theirs)):
                data[ours] = _text(element.get(theirs))
        if "website" in data:
            data["website"] = normalise_website(data["website"])
        data = {k: v for k, v in data.items() if v is not None}
        extra = {"categories": element["categories"]} if element.get("categories") else {}
        yield Candidate(external_id=key, data=data, raw=element, extra=extra)


def ofdb_search_ids(answer: Any) -> list[str]:
    """The ids of the places an OpenFairDB /search answer found in the box."""
    if not isinstance(answer, dict) or not isinstance(answer.get("visible"), list):
        raise AnswerError("an OpenFairDB /search answer has a `visible` list")
    return [str(item["id"]) for item in answer["visible"]
            if isinstance(item, dict) and item.get("id")]


def read_openfairdb(entries: Iterable[Any], kind: str) -> Iterator[Candidate | Problem]:
    """Candidates from OpenFairDB's full entries (`GET /entries/{ids}`)."""
    for item in entries:
        if not isinstance(item, dict) or not item.get("id"):
            yield Problem("rejected", "an entry without an id")
            continue
        key = str(item["id"])
        data: dict[str, Any] = {"kind": kind, "name": _text(item.get("title"))}
        skipped = _located(data, item.get("lng"), item.get("lat"), key)
        if skipped:
            yield skipped
            continue
        for theirs, ours in OFDB_FIELDS.items():
            if _text(item.get(theirs)):
                data[ours] = _text(item.get(theirs))
        if _country(item.get("country")):
            data["country"] = _country(item.get("country"))
        if "website" in data:
            data["website"] = normalise_website(first_value(data["website"], " "))
        extra = {k: item[k] for k in ("categories", "tags", "license", "version")
                 if item.get(k)}
        yield Candidate(external_id=key, data=data, raw=item, extra=extra)


LON, LAT = "__lon", "__lat"


def read_geojson(answer: Any, mapping: CsvMapping) -> Iterator[Candidate | Problem]:
    """Candidates from a FeatureCollection: each feature's properties are read as a
    CSV row by `mapping`, its Point geometry gives the position."""
    if not isinstance(answer, Mapping) or not isinstance(answer.get("features"), list):
        raise AnswerError("a GeoJSON answer is a FeatureCollection with `features`")
    located = dataclasses.replace(mapping, position={"lon": LON, "lat": LAT})
    for number, feature in enumerate(answer["features"], start=1):
        properties = (feature or {}).get("properties") or {}
        row = {str(k): (None if v is None else str(v)) for k, v in properties.items()}
        geometry = (feature or {}).get("geometry") or {}
        if geometry.get("type") == "Point" and len(geometry.get("coordinates") or ()) >= 2:
            row[LON], row[LAT] = (str(c) for c in geometry["coordinates"][:2])
        yield candidate_from_row(located, number, row)
