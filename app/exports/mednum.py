"""The national "lieux de médiation numérique" table schema, v1.0.2 (LaMednum).

The format in which the national map of digital mediation places and France
Tiers-Lieux collect places. Our entries map onto its fields; the schema requires
`id`, `pivot` (a SIRET or RNA number), `nom`, `commune`, `code_postal` (five
digits), `adresse` and `date_maj`. An entry that cannot fill one of them is not
written and is reported with the missing field (app/formats/national.py, which the
editor's page shows too), never dropped silently; an optional value the schema would
refuse (a phone it cannot read) is left out and noted.

The pivot is the entry's SIRET, else its RNA number (the schema's rule); `code_insee`
its `insee_code`. Editors type them; imports read them (OpenStreetMap's
`ref:FR:SIRET` / `ref:FR:RNA`, CSV columns).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from datetime import UTC
from typing import Any

from sqlalchemy import Select, exists, func, select

from .. import hours, licences
from ..formats import national
from ..formats.csv_cells import escape_cell
from ..identity import identity
from ..models import Entry, Source
from ..query.entries import conditions
from .job import ExportJob, Refusal
from .meta import ODBL, data_licence_expression
from .stream import batches, snapshot

VERSION = "v1.0.2"
# The schema's fields, in its order (tests compare this with the schema file).
FIELDS = (
    "id", "pivot", "nom", "commune", "code_postal", "code_insee", "adresse",
    "complement_adresse", "latitude", "longitude", "typologie", "telephone", "courriels",
    "site_web", "horaires", "presentation_resume", "presentation_detail", "source",
    "itinerance", "structure_parente", "date_maj", "services",
    "publics_specifiquement_adresses", "prise_en_charge_specifique", "frais_a_charge",
    "dispositif_programmes_nationaux", "formations_labels", "autres_formations_labels",
    "modalites_acces", "modalites_accompagnement", "fiche_acces_libre", "prise_rdv",
)
SUMMARY_MAX = 280
INSEE_RE = re.compile(r"^([013-9]\d|2[AB1-9])\d{3}$")
PHONE_RE = re.compile(r"^(\+33|\+590|\+594|\+262|\+596|\+269|\+687|\+689|\+508|\+681)(\d){6,9}$")
# Our kinds in the schema's typology (the data.inclusion vocabulary of structures).
TYPOLOGIES = {"third_place": "TIERS_LIEUX"}
# Numbers, and a phone already checked against PHONE_RE: quoting would break the schema.
UNQUOTED = frozenset({"latitude", "longitude", "telephone"})


def query(job: ExportJob) -> Select:
    osm = exists().where(Source.entry_id == Entry.id, Source.origin == "osm")
    return (select(
        Entry.id, Entry.slug, Entry.name, Entry.kind, Entry.street, Entry.postcode, Entry.city,
        func.ST_Y(Entry.geom).label("lat"), func.ST_X(Entry.geom).label("lon"), Entry.phone,
        Entry.email, Entry.website, Entry.opening_hours, Entry.summary, Entry.description,
        Entry.updated_at, Entry.siret, Entry.rna, Entry.insee_code.label("insee"),
        data_licence_expression(licences.data_licence()),
        osm.label("osm"))
        .where(*conditions(job.filter)).order_by(Entry.id))


def phone_number(raw: str | None) -> str | None:
    """A French phone number in the schema's form (+33 and nine digits), or None."""
    if not raw:
        return None
    digits = re.sub(r"[\s().\-/]", "", raw)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif re.fullmatch(r"0\d{9}", digits):
        digits = "+33" + digits[1:]
    return digits if PHONE_RE.match(digits) else None


def shorten(text: str, limit: int = SUMMARY_MAX) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:.")
    return cut + "…"


def source_line(publisher: str, licence: str, osm: bool) -> str:
    """The schema's `source` (who collected the data), naming the licence and OSM's credit."""
    line = f"{publisher} ({licence})"
    return line + ", © les contributeurs d'OpenStreetMap" if osm else line


def map_row(row: Mapping[str, Any], publisher: str) -> tuple[dict[str, str], list[str],
                                                             list[str]]:
    """One entry as a row of the schema: (cells, reasons it cannot be written, notes)."""
    notes = []
    reasons = [str(missing) for missing in national.mednum_missing(row)]
    pivot = national.pivot(row) or ""
    postcode = national.postcode(row)

    phone = phone_number(row["phone"])
    if row["phone"] and phone is None:
        notes.append(f"telephone: {row['phone']!r} is not a French number; left out")
    summary = row["summary"] or ""
    if len(summary) > SUMMARY_MAX:
        summary = shorten(summary)
        notes.append(f"presentation_resume: shortened to {SUMMARY_MAX} characters")
    insee = row["insee"] if row["insee"] and INSEE_RE.match(row["insee"]) else None
    opening = row["opening_hours"] or ""
    if opening and not reasons and hours.problem(opening) is not None:
        notes.append(f"horaires: {opening!r} is not valid OpenStreetMap syntax; left out")
        opening = ""
    cells = {
        "id": str(row["id"]),
        "pivot": pivot,
        "nom": row["name"],
        "commune": row["city"] or "",
        "code_postal": postcode,
        "code_insee": insee or "",
        "adresse": row["street"] or "",
        "latitude": "" if row["lat"] is None else repr(row["lat"]),
        "longitude": "" if row["lon"] is None else repr(row["lon"]),
        "typologie": TYPOLOGIES.get(row["kind"], ""),
        "telephone": phone or "",
        "courriels": row["email"] or "",
        "site_web": row["website"] or "",
        "horaires": opening,
        "presentation_resume": summary,
        "presentation_detail": row["description"] or "",
        "source": source_line(publisher, row["data_licence"] or ODBL, row["osm"]),
        "date_maj": row["updated_at"].astimezone(UTC).date().isoformat(),
    }
    return {name: _safe(name, cells.get(name, "")) for name in FIELDS}, reasons, notes


def _safe(name: str, value: str) -> str:
    """Text escaped against formulas, but for the columns the schema reads as numbers or
    constrains to `+33` and digits (`telephone`: no formula can hide there)."""
    return value if name in UNQUOTED else escape_cell(value)


def write_mednum(job: ExportJob) -> Iterator[bytes]:
    """The CSV of the schema (header row, UTF-8); refused entries go to `job.refuse`."""
    publisher = identity().publisher
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\r\n")
    writer.writeheader()
    with snapshot() as conn:
        for rows in batches(conn, query(job)):
            for row in rows:
                values = row._mapping
                cells, reasons, notes = map_row(values, publisher)
                if reasons:
                    job.refuse(Refusal(str(values["id"]), values["slug"], values["name"],
                                       tuple(reasons)))
                    continue
                if notes:
                    job.note(Refusal(str(values["id"]), values["slug"], values["name"],
                                     tuple(notes), kind="note"))
                writer.writerow(cells)
                job.written += 1
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
