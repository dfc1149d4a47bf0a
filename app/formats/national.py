"""What the national databases need of an entry, said once for their exports and editors.

Two national schemas take our entries: the "lieux de médiation numérique" table
(LaMednum, app/exports/mednum.py) and data·inclusion's "structures"
(app/exports/datainclusion.py). Each export writes an entry only when nothing here is
missing, and reports the rest per field; the editor's page of an entry shows the same
list, so an editor sees what to fill before the next export.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

POSTCODE_RE = re.compile(r"^\d{5}$")
# data·inclusion's `nom`: 3 to 150 characters.
NAME_LENGTH = (3, 150)


@dataclass(frozen=True)
class Missing:
    """One thing a schema needs: its field, our fields that fill it, why it is refused."""

    field: str
    ours: tuple[str, ...]
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


@dataclass(frozen=True)
class Readiness:
    key: str
    title: str
    missing: tuple[Missing, ...]

    @property
    def ready(self) -> bool:
        return not self.missing


def _text(values: Mapping[str, Any], name: str) -> str:
    return re.sub(r"\s+", " ", values.get(name) or "").strip()


def postcode(values: Mapping[str, Any]) -> str:
    return re.sub(r"\s", "", values.get("postcode") or "")


def pivot(values: Mapping[str, Any]) -> str | None:
    """The médiation numérique schema's `pivot`: the SIRET, else the RNA number (the
    schema: "associations that have a SIRET give only that code")."""
    return values.get("siret") or values.get("rna") or None


def _address(values: Mapping[str, Any]) -> list[Missing]:
    out = []
    if not _text(values, "street"):
        out.append(Missing("adresse", ("street",), "the entry has no street"))
    if not _text(values, "city"):
        out.append(Missing("commune", ("city",), "the entry has no city"))
    code = postcode(values)
    if not code:
        out.append(Missing("code_postal", ("postcode",), "the entry has no postcode"))
    elif not POSTCODE_RE.match(code):
        out.append(Missing("code_postal", ("postcode",),
                           f"{code!r} is not a five-digit French postcode"))
    return out


def mednum_missing(values: Mapping[str, Any]) -> list[Missing]:
    """What the médiation numérique schema requires and the entry lacks (its required
    fields: pivot, nom, commune, code_postal, adresse; id and date_maj are ours)."""
    out = []
    if not pivot(values):
        out.append(Missing("pivot", ("siret", "rna"), "no SIRET or RNA number is known "
                           "for this entry (an editor can type it; imports read "
                           "OpenStreetMap's ref:FR:SIRET and a CSV column)"))
    return out + _address(values)


def datainclusion_missing(values: Mapping[str, Any]) -> list[Missing]:
    """What a data·inclusion structure needs: its `nom` of 3 to 150 characters (the
    schema), and a commune (ours: a structure is a place people go to, found by its
    commune; an entry without a place is not one)."""
    out = []
    low, high = NAME_LENGTH
    if not low <= len(_text(values, "name")) <= high:
        out.append(Missing("nom", ("name",), f"between {low} and {high} characters"))
    if not _text(values, "city"):
        out.append(Missing("commune", ("city",), "the entry has no city"))
    return out


SCHEMAS = (
    ("mednum", "Lieux de médiation numérique", mednum_missing),
    ("data-inclusion", "data·inclusion (structures)", datainclusion_missing),
)


def readiness(values: Mapping[str, Any]) -> list[Readiness]:
    """For each national schema, what the entry `values` (our field names) still lacks."""
    return [Readiness(key, title, tuple(check(values))) for key, title, check in SCHEMAS]
