"""data·inclusion "structures" (schema v1, PyPI `data-inclusion-schema`): a JSON array.

data·inclusion gathers the places of the French social and digital inclusion offer
from their producers and publishes them on data.gouv.fr; its `Structure` has `source`,
`id`, `nom` and `date_maj` required and the rest optional. Our entries map onto it:
`source` is this atlas (its site name as a slug), `id` is `<source>--<entry UUID>`,
`lien_source` the entry's page, `siret`, `code_insee` and `horaires_accueil` (OSM
syntax) our fields. What an entry must have is app/formats/national.py's (its name,
its commune); a refused entry is reported with the missing field, and an optional value
the schema would refuse (a postcode of four digits, unreadable hours) is left out and
noted. The tests validate every row with the package's own pydantic model.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date
from typing import Any

import orjson
from slugify import slugify
from sqlalchemy import Select, func, select

from .. import hours
from ..formats import national
from ..identity import identity
from ..models import Entry
from ..query.entries import conditions
from .job import ExportJob, Refusal
from .mednum import phone_number
from .stream import batches, snapshot

DESCRIPTION_LENGTH = (5, 10_000)


def source_name() -> str:
    """data·inclusion's `source`: who produced the data (this atlas), as a slug."""
    return slugify(identity().site_name) or "atlas-des-communs"


def query(job: ExportJob) -> Select:
    return (select(
        Entry.id, Entry.slug, Entry.name, Entry.summary, Entry.description, Entry.street,
        Entry.postcode, Entry.city, Entry.insee_code, Entry.siret,
        func.ST_Y(Entry.geom).label("lat"), func.ST_X(Entry.geom).label("lon"),
        Entry.phone, Entry.email, Entry.website, Entry.opening_hours, Entry.updated_at)
        .where(*conditions(job.filter)).order_by(Entry.id))


def structure(row: Mapping[str, Any], source: str, url: str
              ) -> tuple[dict[str, Any], list[str], list[str]]:
    """One entry as a structure: (fields, reasons it cannot be written, notes)."""
    reasons = [str(missing) for missing in national.datainclusion_missing(row)]
    notes: list[str] = []
    if reasons:
        return {}, reasons, notes
    low, high = DESCRIPTION_LENGTH
    description = (row["summary"] or row["description"] or "").strip()
    if description and len(description) < low:
        notes.append(f"description: shorter than {low} characters; left out")
        description = ""
    elif len(description) > high:
        description = description[:high - 1].rstrip() + "…"
        notes.append(f"description: shortened to {high} characters")
    postcode = national.postcode(row)
    if postcode and not national.POSTCODE_RE.match(postcode):
        notes.append(f"code_postal: {postcode!r} is not five digits; left out")
        postcode = ""
    opening = row["opening_hours"]
    if opening and hours.problem(opening) is not None:
        notes.append(f"horaires_accueil: {opening!r} is not valid OpenStreetMap syntax; "
                     "left out")
        opening = None
    updated = row["updated_at"].astimezone(UTC).date()
    out = {
        "source": source,
        "id": f"{source}--{row['id']}",
        "nom": (row["name"] or "").strip(),
        "date_maj": min(updated, date.today()).isoformat(),
        "description": description or None,
        "lien_source": url,
        "siret": row["siret"],
        "commune": row["city"],
        "code_postal": postcode or None,
        "code_insee": row["insee_code"],
        "adresse": row["street"],
        "longitude": row["lon"],
        "latitude": row["lat"],
        "telephone": phone_number(row["phone"]) or row["phone"],
        "courriel": row["email"],
        "site_web": row["website"],
        "horaires_accueil": opening,
    }
    return {k: v for k, v in out.items() if v not in (None, "")}, reasons, notes


def write_datainclusion(job: ExportJob) -> Iterator[bytes]:
    """The structures as one JSON array; refused entries go to `job.refuse`."""
    source = source_name()
    head, separator = b"[", b""
    with snapshot() as conn:
        for rows in batches(conn, query(job)):
            items = []
            for row in rows:
                item, reasons, notes = structure(row._mapping, source,
                                                 job.entry_url(row.slug))
                if reasons:
                    job.refuse(Refusal(str(row.id), row.slug, row.name, tuple(reasons)))
                    continue
                if notes:
                    job.note(Refusal(str(row.id), row.slug, row.name, tuple(notes),
                                     kind="note"))
                items.append(orjson.dumps(item))
            # The opening bracket goes with the first rows read (streaming.py).
            yield head + (separator + b",".join(items) if items else b"")
            head = b""
            if items:
                separator = b","
                job.written += len(items)
    yield head + b"]"
