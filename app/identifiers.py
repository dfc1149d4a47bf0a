"""An entry's identifiers in other registers: SIRET, RNA, Wikidata, OpenStreetMap.

One home for what each identifier looks like, how a typed value is tidied (spaces in
a SIRET, a pasted Wikidata or OpenStreetMap address), how it is checked (the SIRET's
Luhn key), where it links and how schema.org names it. The registry
(app/entry_fields.py) uses `normalise` and `check` as the input rule of each field;
the entry page, JSON-LD and the national exports use the rest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .services.errors import ErrorMessage, coded

# La Poste's establishments share one SIREN; their SIRETs (but the head office's) do not
# follow the Luhn key but "the sum of the digits is a multiple of 5" (INSEE's exception).
LA_POSTE_SIREN = "356000000"
LA_POSTE_HEAD_OFFICE = "35600000000048"
_BLANKS = re.compile(r"[\s\u00a0\u202f.\-]")
SIRET_RE = re.compile(r"^\d{14}$")
RNA_RE = re.compile(r"^W\d{9}$")
WIKIDATA_RE = re.compile(r"^Q[1-9]\d{0,11}$")
OSM_OBJECT_RE = re.compile(r"^(node|way|relation)/[1-9]\d{0,15}$")
_WIKIDATA_URL = re.compile(r"^https?://(?:www\.|m\.)?wikidata\.org/(?:wiki|entity)/(Q\d+)/?$",
                           re.IGNORECASE)
_OSM_URL = re.compile(r"^https?://(?:www\.)?openstreetmap\.org/(node|way|relation)/(\d+)/?"
                      r"(?:[?#].*)?$", re.IGNORECASE)
_OSM_SHORT = {"n": "node", "w": "way", "r": "relation"}


def luhn_ok(digits: str) -> bool:
    """The Luhn key of a string of digits (SIREN, SIRET): every second digit from the
    right doubled, the digits' sum a multiple of 10."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def siret_key_ok(siret: str) -> bool:
    """The check of a 14-digit SIRET: the Luhn key of the SIRET and of its SIREN (the
    first nine digits), or La Poste's sum of digits by 5."""
    if siret.startswith(LA_POSTE_SIREN) and siret != LA_POSTE_HEAD_OFFICE:
        return sum(int(c) for c in siret) % 5 == 0
    return luhn_ok(siret) and luhn_ok(siret[:9])


def _siret(value: str) -> str:
    return _BLANKS.sub("", value)


def _rna(value: str) -> str:
    return _BLANKS.sub("", value).upper()


def _wikidata(value: str) -> str:
    value = value.strip()
    match = _WIKIDATA_URL.match(value)
    return (match.group(1) if match else value).upper()


def _osm_object(value: str) -> str:
    value = value.strip()
    match = _OSM_URL.match(value)
    if match:
        return f"{match.group(1).lower()}/{match.group(2)}"
    short = re.match(r"^([nwr])\s*/?\s*(\d+)$", value, re.IGNORECASE)
    if short:
        return f"{_OSM_SHORT[short.group(1).lower()]}/{short.group(2)}"
    return re.sub(r"\s*/\s*", "/", value).lower()


def _check_siret(value: str) -> ErrorMessage | None:
    if not SIRET_RE.match(value):
        return coded("siret_format", "SIRET: 14 digits expected, not {value!r}.", value=value)
    if not siret_key_ok(value):
        return coded("siret_key", "SIRET: invalid check digit (Luhn key) in {value}.",
                     value=value)
    return None


def _check_rna(value: str) -> ErrorMessage | None:
    if not RNA_RE.match(value):
        return coded("rna_format", "RNA: W followed by 9 digits expected, not {value!r}.",
                     value=value)
    return None


def _check_wikidata(value: str) -> ErrorMessage | None:
    if not WIKIDATA_RE.match(value):
        return coded("wikidata_format", "Wikidata: an item id such as Q42 expected, "
                     "not {value!r}.", value=value)
    return None


def _check_osm_object(value: str) -> ErrorMessage | None:
    if not OSM_OBJECT_RE.match(value):
        return coded("osm_object_format", "OpenStreetMap object: node/…, way/… or "
                     "relation/… followed by its number expected, not {value!r}.",
                     value=value)
    return None


@dataclass(frozen=True)
class Identifier:
    """One kind of identifier: its field, its schema.org `propertyID`, its rules, its link."""

    field: str
    property_id: str
    normalise: Callable[[str], str]
    problem: Callable[[str], ErrorMessage | None]
    link: Callable[[str], str]
    same_as: bool = False  # its link is a URI of the same thing (schema.org sameAs)


IDENTIFIERS: tuple[Identifier, ...] = (
    Identifier("siret", "SIRET", _siret, _check_siret,
               lambda v: f"https://annuaire-entreprises.data.gouv.fr/etablissement/{v}"),
    Identifier("rna", "RNA", _rna, _check_rna,
               lambda v: "https://www.journal-officiel.gouv.fr/pages/associations-recherche/"
                         f"?q={v}"),
    Identifier("wikidata", "Wikidata", _wikidata, _check_wikidata,
               lambda v: f"https://www.wikidata.org/wiki/{v}", same_as=True),
    Identifier("osm_object", "OpenStreetMap", _osm_object, _check_osm_object,
               lambda v: f"https://www.openstreetmap.org/{v}", same_as=True),
)
BY_FIELD = {i.field: i for i in IDENTIFIERS}
FIELDS = tuple(BY_FIELD)


def clean(field: str, value: str) -> str:
    """`value` tidied and checked as the identifier of `field`; ValueError (an
    ErrorMessage naming the identifier) when it is not one."""
    kind = BY_FIELD[field]
    tidy = kind.normalise(value)
    problem = kind.problem(tidy)
    if problem is not None:
        raise ValueError(problem)
    return tidy


def links(record: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(field, value, link) of each identifier `record` holds, in the registry's order."""
    return [(i.field, record[i.field], i.link(record[i.field]))
            for i in IDENTIFIERS if record.get(i.field)]


def property_values(record: Mapping[str, Any]) -> list[dict[str, str]]:
    """schema.org `identifier` values (PropertyValue with propertyID) of `record`."""
    return [{"@type": "PropertyValue", "propertyID": i.property_id, "value": record[i.field]}
            for i in IDENTIFIERS if record.get(i.field)]


def same_as(record: Mapping[str, Any]) -> list[str]:
    """The URIs of the same thing elsewhere (Wikidata's item, the OpenStreetMap object)."""
    return [i.link(record[i.field]) for i in IDENTIFIERS if i.same_as and record.get(i.field)]
