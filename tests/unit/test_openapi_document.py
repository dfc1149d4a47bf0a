"""The OpenAPI document is built on first read (app/api/__init__.py, AtlasApi), and then
holds every documented route, whoever reads it first and however many read at once."""

from __future__ import annotations

import json
import re
import threading

from tests.conftest import make_app

DOCUMENTED = ("api_v1.", "exports.")  # the blueprints registered through the Api


def _documented_paths(app) -> set[str]:
    """The paths of the routes of the documented blueprints, in OpenAPI's spelling."""
    return {re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            for rule in app.url_map.iter_rules() if rule.endpoint.startswith(DOCUMENTED)}


def test_an_app_builds_no_document_until_one_is_read(database_url):
    app = make_app(database_url)
    api = app.extensions["atlas_api"]
    assert api._built is False
    assert "openapi" in app.cli.commands  # `flask openapi …` exists before any build

    document = app.test_client().get("/api/openapi.json").get_json()

    assert api._built is True
    assert set(document["paths"]) == _documented_paths(app)
    assert {"Upsert", "Deletion", "SheetUpsert", "SheetDeletion", "EntryInput",
            "EntryBatch"} <= set(document["components"]["schemas"])
    assert "bearerAuth" in document["components"]["securitySchemes"]
    assert {tag["name"] for tag in document["tags"]} == {"api_v1", "exports"}
    assert document["components"]["responses"]["NOT_FOUND"]["content"].keys() == {
        "application/problem+json"}


def test_concurrent_first_reads_get_one_whole_document(database_url):
    app = make_app(database_url)
    api = app.extensions["atlas_api"]
    start = threading.Barrier(8)
    seen: list[dict] = []

    def read() -> None:
        start.wait()
        seen.append(json.loads(json.dumps(api.spec.to_dict())))  # as it is now

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(seen) == 8
    assert all(document == seen[0] for document in seen)
    assert set(seen[0]["paths"]) == _documented_paths(app)
