"""The OpenAPI 3.0 document of the OGC API, generated with apispec from marshmallow schemas.

Each collection gets its own paths, so that its items operation declares exactly
the query parameters it takes: GDAL reads them to send simple `-where` filters
to the server instead of filtering on its side.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import url_for
from marshmallow import Schema, fields

from ..api import schemas as api_schemas
from ..api.schemas import LinkSchema
from ..identity import identity
from . import provider

OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"
PROBLEM = "application/problem+json"


class LandingSchema(Schema):
    title = fields.String()
    description = fields.String()
    links = fields.List(fields.Nested(LinkSchema), required=True)


class ConformanceSchema(Schema):
    conformsTo = fields.List(fields.String(), required=True)  # OGC API's name
    links = fields.List(fields.Nested(LinkSchema))


class CollectionSchema(Schema):
    id = fields.String(required=True)
    title = fields.String()
    description = fields.String()
    itemType = fields.String()
    crs = fields.List(fields.String())
    storageCrs = fields.String()
    extent = fields.Dict()
    links = fields.List(fields.Nested(LinkSchema), required=True)


class CollectionsSchema(Schema):
    links = fields.List(fields.Nested(LinkSchema), required=True)
    collections = fields.List(fields.Nested(CollectionSchema), required=True)


class ItemsArgs(Schema):
    f = fields.String(metadata={"enum": ["json", "html"], "description": "Format."})
    bbox = fields.List(fields.Float(), metadata={
        "description": "minLon,minLat,maxLon,maxLat (or 6 numbers with heights), CRS84.",
        "minItems": 4, "maxItems": 6})
    limit = fields.Integer(metadata={"minimum": 1, "maximum": 10000, "default": 10,
                                     "description": "Larger values are clamped to 1000."})
    datetime = fields.String(metadata={
        "description": "Instant or interval (start/end, `..` for open) on the time of the "
                       "last change."})
    cursor = fields.String(metadata={"description": "From a `next` or `prev` link."})


class FormatArgs(Schema):
    f = fields.String(metadata={"enum": ["json", "html"], "description": "Format."})


def _filter_fields(names: tuple[str, ...]) -> dict[str, fields.Field]:
    return {name: api_schemas.FILTER_ARGS[name] for name in names}


def _responses(schema: Any, media: str = "application/json", *, errors: tuple[int, ...] = ()
               ) -> dict[str, Any]:
    out: dict[str, Any] = {"200": {"description": "OK", "content": {
        media: {"schema": schema}, "text/html": {"schema": {"type": "string"}}}}}
    for code in (400, *errors):
        out[str(code)] = {"description": "Problem", "content": {
            PROBLEM: {"schema": "Problem"}}}
    out["304"] = {"description": "Not Modified"}
    return out


@cache
def _spec_without_server(site_name: str) -> dict[str, Any]:
    """The document but its server; one per site name (tests build apps of several)."""
    plugin = MarshmallowPlugin()
    spec = APISpec(f"{site_name} – OGC API Features", "1.0", "3.0.3",
                   plugins=[plugin],
                   info={"description": "Commons, third places and citizen initiatives. "
                                        "JSON API and change feed: /api/docs."})
    spec.components.schema("Problem", schema=api_schemas.ProblemSchema)
    spec.components.schema("Feature", schema=api_schemas.FeatureSchema)
    spec.components.schema("FeatureCollection", schema=api_schemas.FeatureCollectionSchema)
    fmt = plugin.converter.schema2parameters(FormatArgs, location="query")
    simple = {"parameters": fmt}
    spec.path("/", operations={"get": {**simple, "summary": "Landing page",
                                       "responses": _responses(LandingSchema)}})
    spec.path("/conformance", operations={"get": {
        **simple, "summary": "Conformance classes",
        "responses": _responses(ConformanceSchema)}})
    spec.path("/api", operations={"get": {
        **simple, "summary": "This document",
        "responses": {"200": {"description": "OK", "content": {
            OPENAPI_MEDIA_TYPE: {"schema": {"type": "object"}},
            "text/html": {"schema": {"type": "string"}}}}, "400": {
            "description": "Problem", "content": {PROBLEM: {"schema": "Problem"}}}}}})
    spec.path("/collections", operations={"get": {
        **simple, "summary": "Collections", "responses": _responses(CollectionsSchema)}})
    for coll in provider.COLLECTIONS.values():
        base = f"/collections/{coll.id}"
        args = Schema.from_dict({
            **ItemsArgs().fields, **_filter_fields(provider.filter_names(coll))},
            name=f"Items{coll.id.title().replace('-', '')}Args")
        spec.path(base, operations={"get": {
            **simple, "summary": f"{coll.title}: metadata",
            "responses": _responses(CollectionSchema, errors=(404,))}})
        parameters = plugin.converter.schema2parameters(args, location="query")
        for parameter in parameters:
            if parameter["name"] == "bbox":  # OGC API's form: one comma-separated value
                parameter.update(style="form", explode=False)
        spec.path(f"{base}/items", operations={"get": {
            "summary": f"{coll.title}: features",
            "description": coll.description.replace("{site}", site_name),
            "parameters": parameters,
            "responses": _responses("FeatureCollection", "application/geo+json",
                                    errors=(404,))}})
        spec.path(f"{base}/items/{{featureId}}", operations={"get": {
            "summary": f"{coll.title}: one feature",
            "parameters": [{"name": "featureId", "in": "path", "required": True,
                            "schema": {"type": "string"}}, *fmt],
            "responses": _responses("Feature", "application/geo+json", errors=(404,))}})
    return spec.to_dict()


def openapi_document() -> dict[str, Any]:
    """The document, with this server's URL (it depends on the request's host)."""
    return {**_spec_without_server(identity().site_name),
            "servers": [{"url": url_for("ogc.landing", _external=True).rstrip("/")}]}
