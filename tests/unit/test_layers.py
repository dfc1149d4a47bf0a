"""Each rule has one home: the import graph of `app/` and the blueprints of `create_app`.

Read from the source with `ast` (no database): the query layer reads no serialiser
(data flows query → serialiser, never back), the pages and endpoints take their HTTP
manners from `app.http` and not from one another, and `app/__init__.py` registers
every blueprint the application has, so that a reader of it sees them all.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import create_app
from app.config import PROJECT_ROOT

APP = PROJECT_ROOT / "app"
# The packages that answer requests: each keeps its own views, and the manners they
# share (conditional requests, JSON, CORS, problems, locale, error pages) are app.http's.
FRONTS = ("app.api", "app.ogc", "app.exports", "app.web", "app.auth", "app.editor")
# What a front may still take from another one, and why.
SHARED_FRONT_MODULES = {
    "app.auth": "the 403 page and private pages of logged-in users",
    "app.auth.roles": "roles checked on write routes",
    "app.auth.tokens": "bearer tokens of the write API",
    "app.api.schemas": "the API's schemas, reused by the OGC and export documents",
    "app.web.labels": "the vocabulary's labels, shown by the editor and a GoGoCarto export",
    "app.web.filtering": "the folding of search text, shared by the editor's pickers",
}
# Modules that assemble the fronts: the application itself and its command line (the
# scheduled jobs among it: publish-exports writes the export formats to files).
ASSEMBLERS = {"app", "app.cli", "app.jobs.config", "app.jobs.publish"}
# What the query layer may read: the tables, the session, and its own errors.
QUERY_MAY_IMPORT = ("app.query", "app.models", "app.extensions", "app.dbcheck",
                    "app.services.errors")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = PROJECT_ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imported_modules(path: Path) -> Iterator[str]:
    """Every module of `path`'s imports, at any depth (function bodies included),
    relative ones made absolute; `from pkg import mod` names pkg.mod."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                full = f"{source}.{alias.name}"
                yield full if is_module(full) else source


@functools.cache
def app_imports() -> tuple[tuple[str, str], ...]:
    """Read once per run: three tests walk the same imports."""
    return tuple((module_name(path), imported)
                 for path in sorted(APP.rglob("*.py"))
                 for imported in sorted(set(imported_modules(path)))
                 if imported == "app" or imported.startswith("app."))


def front_of(name: str) -> str | None:
    return next((f for f in FRONTS if name == f or name.startswith(f + ".")), None)


def test_the_import_reader_sees_relative_and_nested_imports():
    """The reader itself: a function-level relative import counts (create_app has many)."""
    imports = set(imported_modules(APP / "__init__.py"))
    assert {"app.config", "app.web", "app.cli"} <= imports


def test_the_query_layer_reads_no_serialiser_and_no_front():
    wrong = sorted(f"{importer} imports {imported}" for importer, imported in app_imports()
                   if importer.startswith("app.query.")
                   and not imported.startswith(QUERY_MAY_IMPORT))
    assert wrong == []


def test_fronts_take_http_manners_from_app_http_not_from_each_other():
    wrong = []
    for importer, imported in app_imports():
        source, target = front_of(importer), front_of(imported)
        if target is None or source == target or importer in ASSEMBLERS:
            continue
        if source is None or imported not in SHARED_FRONT_MODULES:
            wrong.append(f"{importer} imports {imported}")
    assert sorted(wrong) == []


def test_app_http_depends_on_no_front():
    wrong = sorted(f"{importer} imports {imported}" for importer, imported in app_imports()
                   if importer.startswith("app.http") and front_of(imported))
    assert wrong == []


def registered_in_create_app() -> set[str]:
    """The names of the blueprints that `create_app` passes to a `register_blueprint`."""
    tree = ast.parse((APP / "__init__.py").read_text(encoding="utf-8"))
    create = next(node for node in tree.body
                  if isinstance(node, ast.FunctionDef) and node.name == "create_app")
    imported: dict[str, tuple[str, str]] = {}
    for node in ast.walk(create):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            for alias in node.names:
                imported[alias.asname or alias.name] = (f"app.{node.module}", alias.name)
    names = set()
    for node in ast.walk(create):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "register_blueprint"):
            argument = node.args[0]
            assert isinstance(argument, ast.Name), ast.unparse(node)
            module, attribute = imported[argument.id]
            names.add(getattr(__import__(module, fromlist=[attribute]), attribute).name)
    return names


def test_create_app_registers_every_blueprint_itself():
    app = create_app({"TESTING": True, "SECRET_KEY": "layers",
                      "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg2://unused/none"})
    # flask-smorest registers its documentation pages (/api/docs…) with the Api object.
    expected = set(app.blueprints) - {"api-docs"}
    assert {"health", "web", "auth", "editor", "ogc"} <= expected
    assert registered_in_create_app() == expected


@pytest.mark.parametrize("old_home", [
    "app/api/http.py", "app/api/json.py", "app/api/problems.py", "app/headers.py",
    "app/outage.py", "app/input_guard.py", "app/streaming.py"])
def test_http_manners_left_no_copy_in_their_old_homes(old_home):
    assert not (PROJECT_ROOT / old_home).exists()
