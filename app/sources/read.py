"""Fetch a registered source's answer and read it into candidates for the pipeline,
with the mapping its run is recorded under (the source's origin, licence, author).

Each kind asks its peer the way the peer documents it (importers/peers.py says where
the formats come from); a credential goes where the peer expects it: GoGoCarto's
`token` parameter, else the Authorization header (OpenFairDB's bearer token…).
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from importers.mapping import (
    DEFAULT_OSM_MAPPING,
    BaseMapping,
    load_csv_mapping,
    load_osm_mapping,
)

from ..models import RegisteredSource
from .credentials import reveal

USER_AGENT = "atlas-des-communs sources"
TIMEOUT = 60
OFDB_CHUNK = 100  # ids per GET /entries/{ids}
DEFAULT_LIMIT = 2000  # OpenFairDB's own upper limit of a search


class FetchError(RuntimeError):
    """The source could not be read; the message says where and why."""


@dataclass
class Reading:
    mapping: BaseMapping
    items: Any  # a list of candidates and problems, or a FileSource
    location: str


def _session(source: RegisteredSource) -> requests.Session:
    session = requests.Session()
    retry = Retry(total=2, backoff_factor=1.0, status_forcelist=(429, 500, 502, 503, 504),
                  allowed_methods=frozenset({"GET", "POST"}), raise_on_status=False)
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.headers["User-Agent"] = USER_AGENT
    secret = reveal(source.credential)
    if secret and source.kind != "gogocarto":
        session.headers["Authorization"] = secret
    return session


def _get(session: requests.Session, url: str, **kw: Any) -> requests.Response:
    try:
        answer = session.request(kw.pop("method", "GET"), url, timeout=(10, TIMEOUT), **kw)
    except requests.RequestException as exc:
        raise FetchError(f"{url} could not be read: {exc}") from None
    if answer.status_code != 200:
        raise FetchError(f"{url} answered HTTP {answer.status_code}: "
                         f"{' '.join(answer.text[:200].split())}")
    return answer


def _json(answer: requests.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        raise FetchError(f"{answer.url} did not answer JSON: "
                         f"{' '.join(answer.text[:200].split())}") from None


def mapping_of(source: RegisteredSource) -> BaseMapping:
    """The mapping a run is recorded under: the file's, with the source's origin,
    licence and author; for a peer read without a file, a bare one."""
    author = f"source {source.name}"
    if source.kind == "overpass":
        base: BaseMapping = load_osm_mapping(Path(source.mapping) if source.mapping
                                             else DEFAULT_OSM_MAPPING)
    elif source.kind in ("csv", "geojson"):
        base = load_csv_mapping(Path(source.mapping or ""))
    else:
        return BaseMapping(path=Path(f"source:{source.name}"), origin=source.origin,
                           author=author, licence=source.licence, territory=None)
    return dataclasses.replace(base, origin=source.origin, author=author,
                               licence=source.licence or base.licence)


@contextmanager
def reading(source: RegisteredSource, *, sample: bool = False) -> Iterator[Reading]:
    """The source fetched and ready to read (a downloaded CSV lives while in the block).
    `sample`: ask for a few records only where the peer lets us (a test)."""
    mapping = mapping_of(source)
    limit = 20 if sample else source.options.get("limit")
    with _session(source) as session:
        if source.kind == "csv":
            from importers.sources import CsvFile

            with tempfile.TemporaryDirectory(prefix="atlas-source-") as folder:
                path = Path(folder) / "source.csv"
                with _get(session, source.url, stream=True) as answer, \
                        path.open("wb") as handle:
                    for chunk in answer.iter_content(1 << 16):
                        handle.write(chunk)
                yield Reading(mapping, CsvFile(path, mapping), source.url)
            return
        yield Reading(mapping, list(_read(source, session, mapping, limit)), source.url)


def _read(source: RegisteredSource, session: requests.Session, mapping: BaseMapping,
          limit: int | None) -> Iterator[Any]:
    from importers import peers

    kind = source.options.get("entry_kind", "initiative")
    area = _territory(source, mapping)
    try:
        if source.kind == "gogocarto":
            params: dict[str, Any] = {"ontology": "gogofull"}
            if area is not None:
                params["bounds"] = (f"{area.min_lon},{area.min_lat},"
                                    f"{area.max_lon},{area.max_lat}")
            if limit:
                params["limit"] = limit
            secret = reveal(source.credential)
            if secret:
                params["token"] = secret
            answer = _json(_get(session, f"{source.url}/api/elements.json", params=params))
            yield from peers.read_gogocarto(answer, kind)
        elif source.kind == "openfairdb":
            if area is None:
                raise FetchError("an OpenFairDB source needs an area (min_lon,min_lat,"
                                 "max_lon,max_lat): its /search asks for a bbox")
            params = {"bbox": f"{area.min_lat},{area.min_lon},{area.max_lat},{area.max_lon}",
                      "limit": limit or DEFAULT_LIMIT}
            ids = peers.ofdb_search_ids(_json(_get(session, f"{source.url}/search",
                                                   params=params)))
            entries: list[Any] = []
            for start in range(0, len(ids), OFDB_CHUNK):
                chunk = ",".join(quote(i, safe="") for i in ids[start:start + OFDB_CHUNK])
                found = _json(_get(session, f"{source.url}/entries/{chunk}"))
                if not isinstance(found, list):
                    raise FetchError("an OpenFairDB /entries answer is a list of entries")
                entries.extend(found)
            yield from peers.read_openfairdb(entries, kind)
        elif source.kind == "overpass":
            from importers.osm_overpass import build_query, read_overpass

            if area is None:
                from importers.osm_overpass import default_area

                area = default_area()
            query = build_query(mapping, area, TIMEOUT)  # type: ignore[arg-type]
            answer = _json(_get(session, source.url, method="POST", data={"data": query}))
            items = read_overpass(answer, mapping)  # type: ignore[arg-type]
            yield from (items if not limit else _first(items, limit))
        elif source.kind == "geojson":
            answer = _json(_get(session, source.url))
            items = peers.read_geojson(answer, mapping)  # type: ignore[arg-type]
            yield from (items if not limit else _first(items, limit))
        else:
            raise FetchError(f"a {source.kind} source is not read as records")
    except (peers.AnswerError, json.JSONDecodeError) as exc:
        raise FetchError(f"{source.url}: {exc}") from None
    except RuntimeError as exc:  # OverpassError
        if isinstance(exc, FetchError):
            raise
        raise FetchError(str(exc)) from None


def _first(items: Iterator[Any], limit: int) -> Iterator[Any]:
    for count, item in enumerate(items):
        if count == limit:
            return
        yield item


def _territory(source: RegisteredSource, mapping: BaseMapping) -> Any:
    from importers.geo import Territory

    if source.area:
        return Territory.parse(source.area)
    return mapping.territory if source.kind in ("overpass",) else None
