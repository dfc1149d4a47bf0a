"""When two records are the same place: the one twin rule of imports, mirrors and forms.

The same SIRET (whatever the distance and the name: one establishment), within
DUPLICATE_RADIUS_M with a similar name (pg_trgm similarity of the unaccented,
lower-cased names at least NAME_SIMILARITY), or the same website (no scheme, no
www., no trailing slash), in that order. An import flags such a record for an editor
(importers/pipeline.py); a sync pull or push links it to the local entry
(app/services/links.py); the suggest and entry forms warn as a place is typed, and
the review of a proposal shows its likely twins (`likely_twins`: published entries
only, so the public learns nothing of pending ones).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from ..extensions import db
from ..identifiers import SIRET_RE
from ..models.entry import WEBSITE_KEY_PATTERN
from .link_reasons import LinkReason, link_reason

DUPLICATE_RADIUS_M = 50
NAME_SIMILARITY = 0.3
MAX_TWINS = 3  # shown for one typed place
WEBSITE_KEY = re.compile(WEBSITE_KEY_PATTERN)

# Twins of many candidates at once: the same SIRET (ix_entries_siret), the nearest
# similar name within the radius (GiST index on geom::geography) or the same website key
# (expression index). `siret` is an array of siret_key values, like `web` of website_key.
DUPLICATES_SQL = text(r"""
WITH c AS (
    SELECT * FROM unnest(CAST(:idx AS int[]), CAST(:lon AS float8[]), CAST(:lat AS float8[]),
                         CAST(:name AS text[]), CAST(:web AS text[]), CAST(:siret AS text[]))
           AS c(idx, lon, lat, name, web, siret)
)
SELECT c.idx, m.id, m.slug, m.name, m.meters, m.sim, m.why, m.siret
FROM c CROSS JOIN LATERAL (
    (SELECT e.id, e.slug, e.name, NULL::float8 AS meters, NULL::float4 AS sim, 'siret' AS why,
            e.siret
     FROM entries e
     WHERE c.siret IS NOT NULL AND e.siret = c.siret AND e.deleted_at IS NULL
     LIMIT 1)
    UNION ALL
    (SELECT e.id, e.slug, e.name,
            ST_Distance(e.geom::geography,
                        ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326)::geography) AS meters,
            similarity(public.atlas_unaccent(lower(e.name)),
                       public.atlas_unaccent(lower(c.name))) AS sim,
            'near', NULL
     FROM entries e
     WHERE c.lon IS NOT NULL AND e.deleted_at IS NULL
       AND ST_DWithin(e.geom::geography,
                      ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326)::geography, :radius)
       AND similarity(public.atlas_unaccent(lower(e.name)),
                      public.atlas_unaccent(lower(c.name))) >= :threshold
     ORDER BY sim DESC, meters LIMIT 1)
    UNION ALL
    (SELECT e.id, e.slug, e.name, NULL::float8, NULL::float4, 'website', NULL
     FROM entries e
     WHERE c.web IS NOT NULL AND e.website IS NOT NULL AND e.deleted_at IS NULL
       AND regexp_replace(lower(e.website), '^https?://(www\.)?|/+$', '', 'g') = c.web
     LIMIT 1)
    LIMIT 1
) m
""")


def website_key(url: str | None) -> str | None:
    """The key of ix_entries_website_key: no scheme, no www., no trailing slash (an
    address typed without a scheme is read as https://, as the forms read it)."""
    if not url or not url.strip():
        return None
    from ..entry_fields import with_scheme

    return WEBSITE_KEY.sub("", with_scheme(url).lower()) or None


def siret_key(value: str | None) -> str | None:
    """A SIRET as stored (14 digits, blanks removed: app/identifiers.py), or None when
    `value` is not one."""
    if not isinstance(value, str):
        return None
    key = re.sub(r"\s+", "", value)
    return key if SIRET_RE.match(key) else None


def twin_params(records: list[Mapping[str, Any]],
                idx: list[int] | None = None) -> dict[str, Any]:
    """DUPLICATES_SQL's parameters for `records` (name, lon, lat, website, siret), indexed
    by `idx` (else their position). Values of the wrong type (a write API's raw input)
    count as absent."""

    def number(value: Any) -> float | None:
        return float(value) if isinstance(value, int | float) else None

    def text_or_none(value: Any) -> str | None:
        return value if isinstance(value, str) else None

    return {"idx": list(range(len(records))) if idx is None else list(idx),
            "lon": [number(r.get("lon")) for r in records],
            "lat": [number(r.get("lat")) for r in records],
            "name": [r.get("name") for r in records],
            "web": [website_key(text_or_none(r.get("website"))) for r in records],
            "siret": [siret_key(text_or_none(r.get("siret"))) for r in records],
            "radius": DUPLICATE_RADIUS_M, "threshold": NAME_SIMILARITY}


def twin_reason(row) -> LinkReason:
    """Why a row of DUPLICATES_SQL is a twin: a code and its parameters, recorded with the
    link and read by app/services/link_reasons.py."""
    if row.why == "siret":
        return link_reason("siret", name=row.name, siret=row.siret)
    if row.why == "near":
        return link_reason("near", meters=round(float(row.meters)), name=row.name,
                           similarity=round(float(row.sim), 2))
    return link_reason("website", name=row.name)


# Twins of one typed place, published entries only, up to MAX_TWINS.
TWINS_SQL = text(r"""
SELECT * FROM (
    SELECT e.id, e.slug, e.name, NULL::float8 AS meters, NULL::float4 AS sim, 'siret' AS why
    FROM entries e
    WHERE CAST(:siret AS text) IS NOT NULL AND e.siret = :siret AND e.deleted_at IS NULL
      AND e.moderation = 'published' AND e.id IS DISTINCT FROM CAST(:exclude AS uuid)
    LIMIT :max
) same
UNION ALL
SELECT * FROM (
    SELECT e.id, e.slug, e.name,
           ST_Distance(e.geom::geography,
                       ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS meters,
           similarity(public.atlas_unaccent(lower(e.name)),
                      public.atlas_unaccent(lower(:name))) AS sim,
           'near' AS why
    FROM entries e
    WHERE CAST(:lon AS float8) IS NOT NULL AND e.deleted_at IS NULL
      AND e.moderation = 'published' AND e.id IS DISTINCT FROM CAST(:exclude AS uuid)
      AND ST_DWithin(e.geom::geography,
                     ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :radius)
      AND similarity(public.atlas_unaccent(lower(e.name)),
                     public.atlas_unaccent(lower(:name))) >= :threshold
    ORDER BY sim DESC, meters
    LIMIT :max
) near
UNION ALL
SELECT * FROM (
    SELECT e.id, e.slug, e.name, NULL::float8, NULL::float4, 'website'
    FROM entries e
    WHERE CAST(:web AS text) IS NOT NULL AND e.website IS NOT NULL AND e.deleted_at IS NULL
      AND e.moderation = 'published' AND e.id IS DISTINCT FROM CAST(:exclude AS uuid)
      AND regexp_replace(lower(e.website), '^https?://(www\.)?|/+$', '', 'g') = :web
    LIMIT :max
) web
""")


@dataclass(frozen=True)
class Twin:
    slug: str
    name: str
    why: str                 # "siret", "near" (a similar name close by) or "website"
    meters: float | None     # for "near"


def likely_twins(name: str | None, lon: float | None, lat: float | None,
                 website: str | None = None, *, siret: str | None = None,
                 exclude: uuid.UUID | None = None) -> list[Twin]:
    """Published entries that may be the place described: the same SIRET, then the
    nearest similar name, then the same website."""
    name = (name or "").strip()
    if lon is None or lat is None or not name:
        lon = lat = None
    web, same = website_key(website), siret_key(siret)
    if lon is None and web is None and same is None:
        return []
    rows = db.session.execute(TWINS_SQL, {
        "lon": lon, "lat": lat, "name": name, "web": web, "siret": same,
        "radius": DUPLICATE_RADIUS_M,
        "threshold": NAME_SIMILARITY, "max": MAX_TWINS,
        "exclude": str(exclude) if exclude else None})
    found: dict[str, Twin] = {}
    for row in rows:
        found.setdefault(row.slug, Twin(row.slug, row.name, row.why,
                                        None if row.meters is None else float(row.meters)))
    return list(found.values())[:MAX_TWINS]
