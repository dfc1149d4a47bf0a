"""Exports: the base in the formats other platforms import, streamed in flat memory.

Every format reads through the one query layer (`app.query`: the same filters and
the same public view as the API) and the public fields of `app.formats.public`,
and names its licence and its sources (`meta.py`). The same writers serve
`flask export FORMAT` and the HTTP exports under /api/v1/exports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .datainclusion import write_datainclusion
from .gogocarto import write_gogocarto
from .job import ExportJob, Refusal
from .mednum import write_mednum
from .writers import write_csv, write_datapackage, write_geojson, write_jsonld


@dataclass(frozen=True)
class ExportFormat:
    name: str
    path: str  # under /api/v1/exports/, and the download's name after "atlas-"
    media_type: str
    write: Callable[[ExportJob], Iterator[bytes]]
    description: str
    # Formats that leave out entries they cannot represent, with a report.
    refuses: bool = False

    @property
    def filename(self) -> str:
        return f"atlas-{self.path}"

    @property
    def refused_path(self) -> str:
        return self.path.rsplit(".", 1)[0] + "-refused.csv"


FORMATS: dict[str, ExportFormat] = {f.name: f for f in (
    ExportFormat("csv", "entries.csv", "text/csv; charset=utf-8", write_csv,
                 "One row per entry (UTF-8, header row, lists joined with ';'); text "
                 "that a spreadsheet would run as a formula starts with a quote."),
    ExportFormat("geojson", "entries.geojson", "application/geo+json", write_geojson,
                 "RFC 7946 FeatureCollection; licence and sources as foreign members."),
    ExportFormat("jsonld", "entries.jsonld", "application/ld+json", write_jsonld,
                 "schema.org JSON-LD: a Dataset and its Places, Organizations and "
                 "CreativeWorks."),
    ExportFormat("datapackage", "datapackage.zip", "application/zip", write_datapackage,
                 "Frictionless data package: datapackage.json and the CSV tables "
                 "(entries, tags, relations, evaluation sheets and answers, sources); text "
                 "that a spreadsheet would run as a formula starts with a quote."),
    ExportFormat("mednum", "lieux-mediation-numerique.csv", "text/csv; charset=utf-8",
                 write_mednum, "The national 'lieux de médiation numérique' schema v1.0.2; "
                 "text that a spreadsheet would run as a formula starts with a quote.",
                 refuses=True),
    ExportFormat("gogocarto", "gogocarto.json", "application/json", write_gogocarto,
                 "GoGoCarto / Transiscope JSON source.", refuses=True),
    ExportFormat("datainclusion", "structures-data-inclusion.json", "application/json",
                 write_datainclusion, "data·inclusion 'structures' (schema v1): a JSON "
                 "array of structures; entries without a commune are refused.",
                 refuses=True),
)}

__all__ = ["FORMATS", "ExportFormat", "ExportJob", "Refusal"]
