"""schema.org JSON-LD of an entry, from its public record (so exports can reuse it).

Third places (and commons that have a place) are `Place`s, initiatives are
`Organization`s, and commons without a position are `CreativeWork`s, or
`SoftwareApplication`s when tagged as software. Only properties that schema.org
defines on the chosen type are written.

`@id` is the entry's page; `url` its own website (the page when it has none);
`identifier` its UUID and its numbers in other registers (PropertyValue with
`propertyID`: SIRET, RNA…); `sameAs` the URIs of the same thing elsewhere (its
Wikidata item, its OpenStreetMap object). Opening hours become an
`openingHoursSpecification` when their week fits a table (app/hours.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .. import hours, identifiers

CONTEXT = "https://schema.org"
SOFTWARE_TAGS = frozenset({"software"})
SPDX_ID_RE = re.compile(r"^[A-Za-z0-9.+-]+$")


def schema_type(record: Mapping[str, Any]) -> str:
    located = record.get("lon") is not None and record.get("lat") is not None
    if record["kind"] == "initiative":
        return "Organization"
    if record["kind"] == "third_place" or located:
        return "Place"
    if SOFTWARE_TAGS.intersection(record.get("tags") or ()):
        return "SoftwareApplication"
    return "CreativeWork"


def licence_url(licence: str | None) -> str | None:
    """The SPDX page of a licence id ("AGPL-3.0-only"), or None for free text."""
    if not licence or not SPDX_ID_RE.match(licence):
        return None
    return f"https://spdx.org/licenses/{licence}.html"


def postal_address(record: Mapping[str, Any]) -> dict[str, Any] | None:
    fields = {"streetAddress": record.get("street"), "postalCode": record.get("postcode"),
              "addressLocality": record.get("city"), "addressCountry": record.get("country")}
    fields = {k: v for k, v in fields.items() if v}
    return {"@type": "PostalAddress", **fields} if fields else None


def geo(record: Mapping[str, Any]) -> dict[str, Any] | None:
    if record.get("lon") is None or record.get("lat") is None:
        return None
    return {"@type": "GeoCoordinates", "latitude": record["lat"], "longitude": record["lon"]}


def sheet_review(sheet: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    """A published evaluation sheet (`app.formats.sheet_changes.sheet_record`) as a
    schema.org Review: each answer a part of it, its level a Rating on the grid's
    scale, its strengths and limits positive and negative notes, its stakes its body."""
    from ..models.vocab import LEVEL_MAX, LEVEL_MIN

    parts = []
    for answer in sheet.get("answers") or []:
        part: dict[str, Any] = {"@type": "Review",
                                "reviewAspect": labels.get(answer["key"], answer["key"])}
        if answer.get("level") is not None:
            part["reviewRating"] = {"@type": "Rating", "ratingValue": answer["level"],
                                    "worstRating": LEVEL_MIN, "bestRating": LEVEL_MAX}
        _put(part, positiveNotes=answer.get("strengths"), negativeNotes=answer.get("limits"),
             reviewBody=answer.get("stakes"))
        parts.append(part)
    review: dict[str, Any] = {"@type": "Review", "identifier": sheet["id"],
                              "name": sheet["title"], "datePublished": sheet["held_on"]}
    _put(review, author=({"@type": "Organization", "name": sheet["authors"]}
                         if sheet.get("authors") else None), hasPart=parts or None)
    return review


def entry_jsonld(record: Mapping[str, Any], *, url: str,
                 sheets: list[Mapping[str, Any]] | None = None,
                 key_labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A JSON-LD object for one public record (`app.formats.public.public_record`).

    `url` is the entry's page, used as its `@id`; `sheets` its published evaluation
    sheets, as `review`s (`key_labels` names the grid's keys).
    """
    kind = schema_type(record)
    numbers = identifiers.property_values(record)
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": kind,
        "@id": url,
        "url": record.get("website") or url,
        "identifier": [record["id"], *numbers] if numbers else record["id"],
        "name": record["name"],
    }
    if record.get("summary"):
        doc["description"] = record["summary"]
    same_as = identifiers.same_as(record)
    if same_as:
        doc["sameAs"] = same_as
    if record.get("tags"):
        doc["keywords"] = ", ".join(record["tags"])
    address, position = postal_address(record), geo(record)

    opening = hours.opening_hours_specification(record.get("opening_hours"))
    if kind == "Place":
        _put(doc, address=address, geo=position, telephone=record.get("phone"),
             openingHoursSpecification=opening)
    elif kind == "Organization":
        place = None
        if address or position:
            place = {"@type": "Place"}
            _put(place, address=address, geo=position, openingHoursSpecification=opening)
        _put(doc, location=place, address=address, email=record.get("email"),
             telephone=record.get("phone"),
             foundingDate=str(record["founded"]) if record.get("founded") else None)
    else:  # CreativeWork, SoftwareApplication
        _put(doc, license=licence_url(record.get("licence")) or record.get("licence"),
             dateCreated=str(record["founded"]) if record.get("founded") else None,
             dateModified=record.get("updated_at"))
    if sheets:
        doc["review"] = [sheet_review(s, key_labels or {}) for s in sheets]
    return doc


def _put(doc: dict[str, Any], **values: Any) -> None:
    doc.update({k: v for k, v in values.items() if v is not None})
