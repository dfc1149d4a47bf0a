"""The JSON API (/api/v1) and its OpenAPI document (/api).

`init_api(app)` makes the flask-smorest Api (the document, its /api/docs pages,
problem+json errors for /api and /ogc, from app/http/problems.py) and returns it;
`create_app` registers the blueprints it documents (v1, exports).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from apispec import APISpec
from flask import Flask
from flask_smorest import Api
from flask_smorest.spec import openapi_cli
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
    """flask-smorest, with problem+json errors that only answer under /api and /ogc, and
    an OpenAPI document built the first time it is read.

    flask-smorest builds the document while blueprints are registered: about half of
    `create_app` (0.2 s), paid by every worker, CLI command and test app, though few
    ever serve it. Here routes are registered at once, and the document's steps (the
    spec, `on_document` callbacks, each blueprint's views and tag) are kept in order and
    run on the first read of `spec`: /api/openapi.json, the docs pages, `flask openapi`.
    """

    ERROR_SCHEMA = schemas.ProblemSchema

    def __init__(self, app: Flask | None = None, **kwargs: Any) -> None:
        self._spec: APISpec | None = None
        self._spec_options: dict | None = None  # set by _init_spec: a document to build
        self._steps: list[Callable[[APISpec], None]] = []
        self._lock = threading.RLock()
        self._building = False
        self._built = False
        super().__init__(app, **kwargs)

    @property
    def spec(self) -> APISpec | None:
        """The document, built once (the first reader builds it, concurrent ones wait)."""
        if not self._built and self._spec_options is not None:
            with self._lock:
                # The builder itself reads `spec` while building (flask-smorest's own
                # steps do): it gets the document under construction.
                if not self._built and not self._building:
                    self._building = True
                    try:
                        super()._init_spec(**self._spec_options)
                        for step in self._steps:
                            step(self._spec)
                        self._built = True
                    finally:
                        self._building = False
        return self._spec

    @spec.setter
    def spec(self, value: APISpec | None) -> None:
        self._spec = value

    def _init_spec(self, **options: Any) -> None:
        self._spec_options = options
        self._app.cli.add_command(openapi_cli)  # what flask-smorest's _init_spec also does

    def on_document(self, step: Callable[[APISpec], None]) -> None:
        """Run `step(spec)` when the document is built, after the steps given before."""
        self._steps.append(step)

    def register_blueprint(self, blp: Any, *, parameters: list | None = None,
                           **options: Any) -> None:
        """flask-smorest's own, with the blueprint's documentation left for later."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)

        def document(spec: APISpec) -> None:
            blp.register_views_in_doc(self, self._app, spec, name=name, parameters=parameters)
            spec.tag({"name": name, "description": blp.description})

        self.on_document(document)

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

    @api.on_document
    def components(spec: APISpec) -> None:
        spec.components.schema("Upsert", schema=schemas.UpsertSchema)
        spec.components.schema("Deletion", schema=schemas.DeletionSchema)
        spec.components.schema("SheetUpsert", schema=schemas.SheetUpsertSchema)
        spec.components.schema("SheetDeletion", schema=schemas.SheetDeletionSchema)
        spec.components.schema("EntryInput", schema=writes.EntryWriteSchema)
        spec.components.schema("EntryBatch", schema=batch_writes.EntryBatchSchema)
        spec.components.security_scheme("bearerAuth", {
            "type": "http", "scheme": "bearer",
            "description": "An API token (`flask tokens create`); its account's role applies."})

    # Writes read bearer tokens only, never the session cookie: no CSRF token needed.
    csrf.exempt(v1.blp)
    app.extensions["atlas_api"] = api
    return api
