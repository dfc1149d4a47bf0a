"""The JSON API (/api/v1) and its OpenAPI document (/api).

`init_api(app)` makes the flask-smorest Api (the document, its /api/docs pages,
problem+json errors for /api and /ogc, from app/http/problems.py) and returns it;
`create_app` registers the blueprints it documents (v1, exports).
"""

from __future__ import annotations

import copy
from http import HTTPStatus

from flask import Flask
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from ..http.problems import MEDIA_TYPE as PROBLEM_TYPE
from ..http.problems import register_problem_handlers
from ..identity import identity
from ..licences import ODBL, describe
from . import schemas

API_CONFIG = {
    "API_VERSION": "1.0",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "/static/vendor/swagger-ui/",
    "OPENAPI_REDOC_PATH": "redoc",
    "OPENAPI_REDOC_URL": "/static/vendor/redoc/redoc.standalone.js",
    "API_SPEC_OPTIONS": {
        "info": {
            "description": (
                "Open data of {site}: commons, third places and citizen initiatives"
                "{territory}. Entries (filters, keyset pages), GeoJSON (RFC 7946) of the whole "
                "base, and a change feed to keep an exact mirror. Errors are "
                "application/problem+json. The OGC API – Features is under /ogc."),
        },
    },
}


class AtlasApi(Api):
    """flask-smorest, with problem+json errors that only answer under /api and /ogc."""

    ERROR_SCHEMA = schemas.ProblemSchema

    def _register_error_handlers(self) -> None:
        register_problem_handlers(self._app)

    def _register_responses(self) -> None:
        for status in HTTPStatus:
            response: dict = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Error", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


def init_api(app: Flask) -> AtlasApi:
    """The Api of this app; its blueprints are registered by `create_app`."""
    from ..extensions import csrf
    from . import batch_writes, sheet_writes, v1, writes  # noqa: F401 (their routes)

    for key, value in API_CONFIG.items():
        app.config.setdefault(key, copy.deepcopy(value))  # each app its own info
    # Named after this instance (ATLAS_SITE_NAME, ATLAS_PUBLISHER_NAME…, app/identity.py).
    site = identity(app.config)
    app.config.setdefault("API_TITLE", site.site_name)
    info = app.config["API_SPEC_OPTIONS"].setdefault("info", {})
    if "{site}" in info.get("description", ""):
        info["description"] = info["description"].format(
            site=site.site_name,
            territory=f" of {site.territory_name}" if site.territory_name else "")
    contact = {"name": site.publisher,
               **({"url": site.publisher_url} if site.publisher_url else {}),
               **({"email": site.contact_email} if site.contact_email else {})}
    info.setdefault("contact", contact)
    # The data licence is the instance's (ATLAS_DATA_LICENCE): sync pull reads it here.
    licence = describe(app.config.get("DATA_LICENCE") or ODBL)
    info["license"] = {"name": f"{licence.id} (data)",
                       **({"url": licence.url} if licence.url else {})}
    api = AtlasApi(app)
    api.spec.components.schema("Upsert", schema=schemas.UpsertSchema)
    api.spec.components.schema("Deletion", schema=schemas.DeletionSchema)
    api.spec.components.schema("SheetUpsert", schema=schemas.SheetUpsertSchema)
    api.spec.components.schema("SheetDeletion", schema=schemas.SheetDeletionSchema)
    api.spec.components.schema("EntryInput", schema=writes.EntryWriteSchema)
    api.spec.components.schema("EntryBatch", schema=batch_writes.EntryBatchSchema)
    api.spec.components.security_scheme("bearerAuth", {
        "type": "http", "scheme": "bearer",
        "description": "An API token (`flask tokens create`); its account's role applies."})
    # Writes read bearer tokens only, never the session cookie: no CSRF token needed.
    csrf.exempt(v1.blp)
    app.extensions["atlas_api"] = api
    return api
