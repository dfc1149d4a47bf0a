"""Overpass API: the query for an area, the fetch (timeout, retries), the JSON reader.

`out center tags;` gives nodes their lat/lon and ways and relations a `center`;
`tags` may be missing. Ids are unique per type only: records are keyed `node/123`,
`way/456`, `relation/789`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from app.services.runs import Problem

from .geo import Territory, default_territory
from .mapping import Condition, OsmMapping
from .osm_common import candidate_from_tags
from .records import Candidate

DEFAULT_ENDPOINT = "https://overpass-api.de/api/interpreter"
DEFAULT_TIMEOUT = 180  # seconds: Overpass's own [timeout:] and the HTTP read timeout


class OverpassError(RuntimeError):
    """The Overpass server could not be reached or gave an unusable answer."""


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _filters(condition: Condition) -> list[str]:
    """Overpass tag filters for one condition (several when it lists several values)."""
    key = _quote(condition.key)
    if condition.any_value:
        return [f"[{key}]"]
    out = [f"[{key}={_quote(v)}]" for v in sorted(condition.exact)]
    out += [f"[{key}~{_quote(p.pattern)},i]" for p in condition.patterns]
    return out


def build_query(mapping: OsmMapping, area: Territory, timeout: int = DEFAULT_TIMEOUT) -> str:
    """One `nwr` statement per rule and value combination, in the area's bounding box."""
    bbox = f"({area.min_lat},{area.min_lon},{area.max_lat},{area.max_lon})"
    statements: list[str] = []
    for rule in mapping.rules:
        combos = [""]
        for condition in rule.conditions:
            combos = [c + f for c in combos for f in _filters(condition)]
        statements += [f"  nwr{c}{bbox};" for c in combos]
    body = "\n".join(dict.fromkeys(statements))
    return f"[out:json][timeout:{timeout}];\n(\n{body}\n);\nout center tags;\n"


def default_area() -> Territory:
    """The instance's territory (ATLAS_TERRITORY_BBOX)."""
    return default_territory()


def fetch(query: str, endpoint: str = DEFAULT_ENDPOINT, *, timeout: float = DEFAULT_TIMEOUT,
          retries: int = 3, backoff: float = 2.0) -> dict[str, Any]:
    """POST the query; retries on connection errors, 429 and 5xx with exponential backoff."""
    retry = Retry(total=retries, connect=retries, read=retries, status=retries,
                  backoff_factor=backoff, status_forcelist=(429, 500, 502, 503, 504),
                  allowed_methods=frozenset({"POST"}), respect_retry_after_header=True,
                  raise_on_status=False)
    with requests.Session() as session:
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.mount("https://", HTTPAdapter(max_retries=retry))
        try:
            response = session.post(endpoint, data={"data": query}, timeout=(10, timeout),
                                    headers={"User-Agent": "atlas-des-communs importer"})
        except requests.RequestException as exc:
            raise OverpassError(f"Overpass at {endpoint} did not answer after "
                                f"{retries} retries: {exc}") from None
    if response.status_code != 200:
        raise OverpassError(f"Overpass at {endpoint} answered HTTP {response.status_code}: "
                            f"{response.text[:300]}")
    try:
        return response.json()
    except ValueError:
        raise OverpassError(f"Overpass at {endpoint} did not answer JSON: "
                            f"{response.text[:300]}") from None


def load_json(path: Path | str) -> dict[str, Any]:
    with Path(path).open(encoding="utf-8") as handle:
        return json.load(handle)


def read_overpass(answer: dict[str, Any], mapping: OsmMapping
                  ) -> Iterator[Candidate | Problem]:
    """Candidates from an Overpass JSON answer (`out center tags;`), and what was skipped."""
    if not isinstance(answer.get("elements"), list):
        raise OverpassError("The Overpass answer has no `elements` list")
    if answer.get("remark"):
        # Overpass reports a timeout or memory exhaustion in `remark`, with partial data.
        raise OverpassError(f"Overpass reported a problem: {answer['remark']}")
    yield from _elements(answer["elements"], mapping)


def _elements(elements: Iterable[dict[str, Any]], mapping: OsmMapping
              ) -> Iterator[Candidate | Problem]:
    for element in elements:
        osm_type, osm_id = element.get("type"), element.get("id")
        if osm_type not in ("node", "way", "relation") or not isinstance(osm_id, int):
            continue
        tags = element.get("tags") or {}
        where = element if osm_type == "node" else element.get("center") or {}
        lon, lat = where.get("lon"), where.get("lat")
        if lon is None or lat is None:
            if mapping.classify(tags) is not None:
                yield Problem("skipped", "no position in the answer (use `out center`)",
                              external_id=f"{osm_type}/{osm_id}")
            continue
        candidate = candidate_from_tags(mapping, osm_type, osm_id, tags, float(lon),
                                        float(lat))
        if candidate is not None:
            yield candidate
