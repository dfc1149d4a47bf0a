"""Adding, changing and finding registered sources; every value checked, each refusal
naming its field (SourceError.field)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from ..extensions import db
from ..models import RegisteredSource
from ..models.registered_source import SOURCE_KINDS
from ..models.vocab import ENTRY_KINDS
from ..services.revisions import Author
from .credentials import CredentialError, seal

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,59}$")
# The kinds read with a mapping file, and the kinds that need one.
MAPPED = ("overpass", "csv", "geojson")
NEEDS_MAPPING = ("csv", "geojson")
KIND_OPTION = ("gogocarto", "openfairdb")
AUTHOR = Author(label="sources")


class SourceError(ValueError):
    """A refused value: `field` is the setting, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def origin_of(kind: str, name: str) -> str:
    """The Source.origin a registered source feeds: an Atlas pulls as remote:<name>."""
    return f"remote:{name}" if kind == "atlas" else f"source:{name}"


def get_source(name: str) -> RegisteredSource | None:
    return db.session.scalar(select(RegisteredSource).where(RegisteredSource.name == name))


def by_origin(origin: str) -> RegisteredSource | None:
    return db.session.scalar(select(RegisteredSource).where(
        RegisteredSource.origin == origin))


def all_sources() -> list[RegisteredSource]:
    return list(db.session.scalars(select(RegisteredSource).order_by(
        RegisteredSource.priority.desc(), RegisteredSource.name)))


def _url(value: Any) -> str:
    url = str(value or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SourceError("url", "an http:// or https:// address")
    if len(url) > 1000:
        raise SourceError("url", "at most 1000 characters")
    return url.rstrip("/") if not parts.query else url


def _int(field: str, value: Any, *, minimum: int | None = None) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise SourceError(field, f"a whole number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise SourceError(field, f"at least {minimum}")
    if abs(number) > 1_000_000:
        raise SourceError(field, "too large")
    return number


def _area(value: Any) -> str | None:
    text = str(value or "").strip()
    if not text:
        return None
    from importers.geo import Territory

    try:
        Territory.parse(text)
    except ValueError as exc:
        raise SourceError("area", f"min_lon,min_lat,max_lon,max_lat ({exc})") from None
    return text


def _mapping(kind: str, value: Any) -> str | None:
    path = str(value or "").strip() or None
    if kind not in MAPPED:
        if path:
            raise SourceError("mapping", f"a {kind} source is read without a mapping file")
        return None
    if path is None:
        if kind in NEEDS_MAPPING:
            raise SourceError("mapping", f"a {kind} source needs a CSV mapping file")
        return None
    from importers.mapping import MappingError, load_csv_mapping, load_osm_mapping

    try:
        (load_osm_mapping if kind == "overpass" else load_csv_mapping)(Path(path))
    except MappingError as exc:
        raise SourceError("mapping", str(exc)) from None
    return path


def _options(kind: str, given: Mapping[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    entry_kind = str(given.get("entry_kind") or "").strip()
    if entry_kind:
        if kind not in KIND_OPTION:
            raise SourceError("entry_kind", f"a {kind} source says the kind of its records")
        if entry_kind not in ENTRY_KINDS:
            raise SourceError("entry_kind", f"one of {', '.join(ENTRY_KINDS)}")
        options["entry_kind"] = entry_kind
    limit = _int("limit", given.get("limit"), minimum=1)
    if limit is not None:
        options["limit"] = limit
    link = given.get("link_twins")
    if link is not None:
        options["link_twins"] = link in (True, "true", "on", "1", "yes")
    return options


def add_source(values: Mapping[str, Any]) -> RegisteredSource:
    """A new source from `values` (name, label, kind, url, mapping, area, licence,
    priority, schedule_hours, credential, entry_kind, limit, link_twins); the caller
    commits."""
    name = str(values.get("name") or "").strip()
    if not NAME_RE.match(name):
        raise SourceError("name", "lower-case letters, digits, '.', '_' and '-', at most 60")
    if get_source(name) is not None:
        raise SourceError("name", f"a source named {name!r} exists already")
    kind = str(values.get("kind") or "").strip()
    if kind not in SOURCE_KINDS:
        raise SourceError("kind", f"one of {', '.join(SOURCE_KINDS)}")
    origin = origin_of(kind, name)
    if by_origin(origin) is not None:
        raise SourceError("name", f"the origin {origin} is registered already")
    source = RegisteredSource(name=name, kind=kind, origin=origin, options={})
    db.session.add(source)
    change_source(source, {"label": name, "priority": 0, **values}, creating=True)
    return source


def change_source(source: RegisteredSource, values: Mapping[str, Any], *,
                  creating: bool = False) -> list[str]:
    """Change the settings given in `values`; returns the names of those that changed.
    A priority change settles again every entry the source feeds (provenance)."""
    changed = []

    def put(field: str, value: Any) -> None:
        if getattr(source, field) != value:
            setattr(source, field, value)
            changed.append(field)

    if "label" in values:
        label = str(values["label"] or "").strip()
        if not label or len(label) > 200:
            raise SourceError("label", "a name for people, 1 to 200 characters")
        put("label", label)
    if "url" in values or creating:
        put("url", _url(values.get("url")))
    if "mapping" in values or creating:
        put("mapping", _mapping(source.kind, values.get("mapping")))
    if "area" in values:
        put("area", _area(values["area"]))
    if "licence" in values:
        licence = str(values["licence"] or "").strip() or None
        if licence and len(licence) > 200:
            raise SourceError("licence", "at most 200 characters")
        put("licence", licence)
    if "priority" in values:
        priority = _int("priority", values["priority"])
        put("priority", priority or 0)
    if "schedule_hours" in values:
        put("schedule_hours", _int("schedule_hours", values["schedule_hours"], minimum=1))
    if "credential" in values and (values["credential"] or creating):
        try:
            put("credential", seal(values["credential"]))
        except CredentialError as exc:
            raise SourceError("credential", str(exc)) from None
    if {"entry_kind", "limit", "link_twins"} & set(values):
        options = {**(source.options or {}), **_options(source.kind, values)}
        put("options", options)
    db.session.flush()
    if "priority" in changed and not creating:
        from ..services.provenance import resettle

        resettle(source.origin, AUTHOR)
    return changed


def set_paused(source: RegisteredSource, paused: bool) -> None:
    source.paused = paused
    db.session.flush()
