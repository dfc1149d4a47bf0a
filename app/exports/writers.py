"""CSV, GeoJSON, schema.org JSON-LD and the Frictionless data package, streamed.

Each writer is a generator of bytes: it opens one snapshot, reads its rows a batch
at a time and yields each batch as text before reading the next, so memory does
not grow with the base. Each names its licence and its sources in the way its
format allows: GeoJSON and JSON-LD in the document, the data package in
datapackage.json, CSV in the `sources` and `data_licence` columns of every row.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from sqlalchemy import Connection, select

from .. import licences
from ..formats import geojson
from ..formats.csv_cells import NOTE as CSV_NOTE
from ..formats.jsonld import CONTEXT, entry_jsonld
from ..formats.public import PUBLIC_FIELDS, public_columns
from ..identity import slug
from ..models import Entry
from ..query.entries import conditions
from .job import ExportJob
from .meta import ExportMeta, export_meta
from .stream import batches, snapshot
from .tables import ENTRIES, PACKAGE_TABLES, Table, cell


def table_chunks(conn: Connection, table: Table, job: ExportJob, *,
                 count: bool = False) -> Iterator[str]:
    """A table as CSV text (RFC 4180, header row), one chunk per batch of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(table.header)
    for rows in batches(conn, table.query(job.filter, licences.data_licence())):
        writer.writerows([cell(v) for v in row] for row in rows)
        if count:
            job.written += len(rows)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def write_csv(job: ExportJob) -> Iterator[bytes]:
    with snapshot() as conn:
        for chunk in table_chunks(conn, ENTRIES, job, count=True):
            if chunk:
                yield chunk.encode()


# -- GeoJSON ----------------------------------------------------------------------------------

def meta_members(meta: ExportMeta) -> str:
    """The export's metadata as JSON members (`"license":…,`) for a document's head."""
    body = orjson.dumps(meta.as_dict()).decode()
    return body[1:-1] + ","


def write_geojson(job: ExportJob) -> Iterator[bytes]:
    """A FeatureCollection (RFC 7946) whose foreign members name the licence and sources."""
    with snapshot() as conn:
        meta = export_meta(conn, job.filter, job.filters)
        head = geojson.collection_head(meta_members(meta))
        separator = ""
        stmt = select(geojson.feature_json()).where(*conditions(job.filter)).order_by(Entry.id)
        for rows in batches(conn, stmt):  # the head goes with the first rows (streaming.py)
            yield (head + separator + ",".join(row[0] for row in rows)).encode()
            head, separator = "", ","
            job.written += len(rows)
        yield (head + "]}").encode()


# -- JSON-LD ----------------------------------------------------------------------------------

def dataset_node(meta: ExportMeta, job: ExportJob) -> dict[str, Any]:
    """The schema.org Dataset that the entries of the graph belong to."""
    node: dict[str, Any] = {
        "@type": "Dataset",
        "@id": f"{job.base_url.rstrip('/')}/#dataset",
        "name": meta.site_name or meta.publisher,
        "description": "Commons, third places and citizen initiatives.",
        "url": job.base_url,
        "license": meta.licence_url or meta.licence,
        "creditText": meta.attribution,
        "publisher": {"@type": "Organization", "name": meta.publisher,
                      **({"url": meta.publisher_url} if meta.publisher_url else {})},
        "dateModified": meta.generated_at.isoformat(),
    }
    based_on = [{"@type": "Dataset", "name": s["title"], "identifier": s["origin"],
                 **({"license": s["licence"]} if s["licence"] else {}),
                 **({"url": s["path"]} if "path" in s else {})}
                for s in meta.as_dict()["sources"]]
    if based_on:
        node["isBasedOn"] = based_on
    return node


def records(rows: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Rows of `public_columns()` as `public_record()` gives them (times in ISO 8601)."""
    for row in rows:
        record = dict(zip(PUBLIC_FIELDS, row, strict=True))
        record["created_at"] = record["created_at"].isoformat()
        record["updated_at"] = record["updated_at"].isoformat()
        record["tags"] = list(record["tags"])
        yield record


def write_jsonld(job: ExportJob) -> Iterator[bytes]:
    """One JSON-LD document: the Dataset, then every entry (Place, Organization, CreativeWork)."""
    with snapshot() as conn:
        meta = export_meta(conn, job.filter, job.filters)
        head = (orjson.dumps({"@context": CONTEXT})[:-1] + b',"@graph":['
                + orjson.dumps(dataset_node(meta, job)))
        stmt = select(*public_columns()).where(*conditions(job.filter)).order_by(Entry.id)
        for rows in batches(conn, stmt):  # the head goes with the first rows (streaming.py)
            nodes = []
            for record in records(rows):
                node = entry_jsonld(record, url=job.entry_url(record["slug"]))
                del node["@context"]  # the document's context applies
                nodes.append(orjson.dumps(node))
            yield head + b"," + b",".join(nodes)
            head = b""
            job.written += len(rows)
        yield head + b"]}"


# -- Frictionless data package -------------------------------------------------------------------

def package_descriptor(meta: ExportMeta, job: ExportJob) -> dict[str, Any]:
    """datapackage.json: the tables with their Table Schemas, the licence and the sources."""
    return {
        "profile": "tabular-data-package",
        "name": slug(meta.site_name or meta.publisher),  # "atlas-des-communs" by default
        "title": meta.site_name or meta.publisher,
        "description": "Commons, third places and citizen initiatives: entries, tags, "
                       "relations, evaluation sheets and their answers, and the sources "
                       "of the data. Attribution: " + meta.attribution + ". " + CSV_NOTE,
        "homepage": job.base_url,
        "created": meta.generated_at.isoformat(),
        "licenses": [meta.licence_dict()],
        "sources": [{k: v for k, v in s.items() if v is not None}
                    for s in meta.as_dict()["sources"]],
        "contributors": [{"title": meta.publisher, "role": "publisher",
                          **({"path": meta.publisher_url} if meta.publisher_url else {})}],
        **({"filters": meta.filters} if meta.filters else {}),
        "resources": [{
            "name": table.name, "path": table.path, "title": table.title,
            "description": table.description, "profile": "tabular-data-resource",
            "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
            "schema": table.schema(),
        } for table in PACKAGE_TABLES],
    }


class _Sink:
    """A write-only, unseekable file: zipfile writes into it, the generator drains it."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        return out


def write_datapackage(job: ExportJob) -> Iterator[bytes]:
    """A zip: datapackage.json and one CSV per table, written as the rows arrive."""
    sink = _Sink()
    with snapshot() as conn:
        meta = export_meta(conn, job.filter, job.filters)
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED,
                             compresslevel=6) as archive:
            archive.writestr("datapackage.json", orjson.dumps(
                package_descriptor(meta, job), option=orjson.OPT_INDENT_2))
            # No yield yet: the first chunk goes with the first rows (streaming.py).
            for table in PACKAGE_TABLES:
                with archive.open(table.path, "w", force_zip64=True) as member:
                    for chunk in table_chunks(conn, table, job, count=table is ENTRIES):
                        member.write(chunk.encode())
                        yield sink.drain()
        yield sink.drain()
