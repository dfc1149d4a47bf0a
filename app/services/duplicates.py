"""Is this place already on the map? The importers' twin rule, for one typed entry.

A twin is a published entry within DUPLICATE_RADIUS_M with a similar name (trigram
similarity of the accent-blind, lower-case names at least NAME_SIMILARITY), or one
with the same website key (no scheme, no www., no trailing slash). The suggest form
asks as it is typed (a warning, never a refusal), the server asks again on submit,
and the editors' review of a proposal shows the answer too. Only published entries
are compared: the public must not learn of pending ones through this.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from sqlalchemy import text

from ..extensions import db
from ..models.entry import WEBSITE_KEY_PATTERN

DUPLICATE_RADIUS_M = 50
NAME_SIMILARITY = 0.3
MAX_TWINS = 3
WEBSITE_KEY = re.compile(WEBSITE_KEY_PATTERN)

TWINS_SQL = text(r"""
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
    why: str                 # "near" (a similar name close by) or "website"
    meters: float | None     # for "near"


def website_key(url: str | None) -> str | None:
    """The importers' comparison key of a website, or None."""
    if not url or not url.strip():
        return None
    from ..entry_fields import with_scheme

    return WEBSITE_KEY.sub("", with_scheme(url).lower()) or None


def likely_twins(name: str | None, lon: float | None, lat: float | None,
                 website: str | None = None, *, exclude: uuid.UUID | None = None
                 ) -> list[Twin]:
    """Published entries that may be the place described, nearest similar name first."""
    name = (name or "").strip()
    if lon is None or lat is None or not name:
        lon = lat = None
    web = website_key(website)
    if lon is None and web is None:
        return []
    rows = db.session.execute(TWINS_SQL, {
        "lon": lon, "lat": lat, "name": name, "web": web, "radius": DUPLICATE_RADIUS_M,
        "threshold": NAME_SIMILARITY, "max": MAX_TWINS,
        "exclude": str(exclude) if exclude else None})
    found: dict[str, Twin] = {}
    for row in rows:
        found.setdefault(row.slug, Twin(row.slug, row.name, row.why,
                                        None if row.meters is None else float(row.meters)))
    return list(found.values())[:MAX_TWINS]
