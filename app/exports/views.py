"""The public exports over HTTP, under /api/v1/exports/, streamed, with the API's filters.

One URL per format (entries.csv, entries.geojson, entries.jsonld, datapackage.zip,
lieux-mediation-numerique.csv, gogocarto.json, structures-data-inclusion.json). Each
answer names its licence in a `Link: <…>; rel="license"` header as well as in the file,
and comes as a download. Formats that leave entries out list them, with the reasons,
beside them (lieux-mediation-numerique-refused.csv, gogocarto-refused.csv, …).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any

from flask import Response, request, url_for
from flask_smorest import Blueprint
from marshmallow import fields

from ..api import schemas
from ..formats.csv_cells import escape_row
from ..http.conditional import conditional
from ..http.json import json_response
from ..http.problems import add_problem_handlers
from ..http.streaming import streamed_response
from ..query import parse_filter, unknown_tags
from ..query.filters import PROPERTY_FILTERS
from . import FORMATS, ExportFormat, ExportJob, Refusal
from .meta import export_meta
from .stream import snapshot

blp = Blueprint("exports", __name__, url_prefix="/api/v1/exports",
                description="Exports of the whole base (or a filtered part), streamed: CSV, "
                            "GeoJSON, JSON-LD, a Frictionless data package, the national "
                            "'lieux de médiation numérique' schema, GoGoCarto JSON.")
add_problem_handlers(blp)
QUERY = {"location": "query", "unknown": "raise", "error_status_code": 400}
REPORT_TYPE = "text/csv; charset=utf-8"


def _job() -> ExportJob:
    entry_filter = parse_filter(request.args, tag_exists=unknown_tags,
                                property_names=PROPERTY_FILTERS)
    filters = {k: request.args.getlist(k) for k in request.args}
    return ExportJob(filter=entry_filter, filters=filters, base_url=request.url_root)


def _licence_link(job: ExportJob) -> str:
    with snapshot() as conn:
        meta = export_meta(conn, job.filter)
    target = meta.licence_url or meta.licence
    return f'<{target}>; rel="license"; title="{meta.licence}"'


class ExportLinkSchema(schemas.Strict):
    format = fields.String(required=True)
    media_type = fields.String(required=True)
    description = fields.String(required=True)
    url = fields.String(required=True)
    refused_url = fields.String(metadata={"description": "Where the format leaves entries "
                                                        "out: the list, with the reasons."})


class ExportListSchema(schemas.Strict):
    items = fields.List(fields.Nested(ExportLinkSchema), required=True)


@blp.route("")
@blp.response(200, ExportListSchema, description="The export formats and their URLs.")
def list_exports():
    """The export formats, each with its URL (and, where entries may be left out, the URL of
    the list of refused entries)."""
    items = []
    for export in FORMATS.values():
        item: dict[str, Any] = {
            "format": export.name, "media_type": export.media_type,
            "description": export.description,
            "url": url_for(f"exports.{export.name}", _external=True)}
        if export.refuses:
            item["refused_url"] = url_for(f"exports.{export.name}_refused", _external=True)
        items.append(item)
    return json_response({"items": items})


def download(export: ExportFormat) -> Response:
    job = _job()
    response = streamed_response(export.write(job), content_type=export.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response.headers["Link"] = _licence_link(job)
    return response


def refusal_lines(export: ExportFormat, job: ExportJob) -> Iterator[str]:
    """Run the export into nothing and stream its report lines as they come."""
    pending: list[Refusal] = []
    job.on_refusal = pending.append
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["kind", "id", "slug", "name", "reasons"])
    for _chunk in export.write(job):
        writer.writerows(escape_row([r.kind, r.id, r.slug, r.name, "; ".join(r.reasons)])
                         for r in pending)
        pending.clear()
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def refused(export: ExportFormat) -> Response:
    return streamed_response(refusal_lines(export, _job()), content_type=REPORT_TYPE)


class LicenceSchema(schemas.Strict):
    name = fields.String(required=True,
                         metadata={"description": "Licence id (an SPDX id where one fits)."})
    title = fields.String(required=True)
    path = fields.String(metadata={"description": "The licence's text."})


class SourceInfoSchema(schemas.Strict):
    title = fields.String(required=True)
    origin = fields.String(required=True, metadata={"description": "osm, csv:<name>, "
                                                    "remote:<instance>, demo, manual…"})
    licence = fields.String(allow_none=True, required=True)
    entries = fields.Integer(required=True, metadata={"description": "Exported entries "
                                                      "with data from this source."})
    path = fields.String()


class ExportFeatureCollectionSchema(schemas.FeatureCollectionSchema):
    """The GeoJSON export: a FeatureCollection whose foreign members name licence and
    sources."""

    publisher = fields.String(required=True)
    license = fields.Nested(LicenceSchema, required=True)
    attribution = fields.String(required=True)
    sources = fields.List(fields.Nested(SourceInfoSchema), required=True)
    generated_at = fields.DateTime(required=True)
    filters = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


BINARY = {"type": "string", "format": "binary"}
# What the OpenAPI document says of each body (JSON ones are objects, described in the doc).
BODY_SCHEMAS: dict[str, Any] = {"geojson": ExportFeatureCollectionSchema,
                                "jsonld": {"type": "object"}, "gogocarto": {"type": "object"},
                                "datainclusion": {"type": "array", "items": {"type": "object"}}}


def _route(path: str, endpoint: str, media_type: str, doc: str,
           answer: Callable[[], Response]) -> None:
    def view(_args: dict[str, Any]) -> Response:
        return answer()

    view.__name__ = endpoint
    view.__doc__ = doc
    view = conditional()(view)
    for code, name in ((304, "NOT_MODIFIED"), (400, "BAD_REQUEST")):
        view = blp.alt_response(code, response=name)(view)
    view = blp.response(200, schema=BODY_SCHEMAS.get(endpoint, BINARY), content_type=media_type,
                        description="The export, streamed.")(view)
    view = blp.arguments(schemas.GeoJSONArgs, **QUERY)(view)
    blp.route(f"/{path}", endpoint=endpoint)(view)


for _export in FORMATS.values():
    _route(_export.path, _export.name, _export.media_type,
           f"{_export.description}\n\nStreamed; the filters are those of /api/v1/entries. "
           "The licence is named in the file and in the Link header (rel=license).",
           lambda export=_export: download(export))
    if _export.refuses:
        _route(_export.refused_path, f"{_export.name}_refused", REPORT_TYPE,
               f"The entries the {_export.name} export leaves out, and the values it leaves "
               "out, with the reasons (CSV: kind, id, slug, name, reasons).",
               lambda export=_export: refused(export))
