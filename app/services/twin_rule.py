"""When two records are the same place: the one twin rule of imports and mirrors.

Within DUPLICATE_RADIUS_M with a similar name (pg_trgm similarity of the unaccented,
lower-cased names at least NAME_SIMILARITY), or the same website (no scheme, no
www., no trailing slash). An import flags such a record for an editor
(importers/pipeline.py); a sync pull or push links it to the local entry
(app/services/links.py).
"""

from __future__ import annotations

import re

from sqlalchemy import text

from ..models.entry import WEBSITE_KEY_PATTERN

DUPLICATE_RADIUS_M = 50
NAME_SIMILARITY = 0.3
WEBSITE_KEY = re.compile(WEBSITE_KEY_PATTERN)

# Twins of many candidates at once: the nearest similar name within the radius
# (GiST index on geom::geography) or the same website key (expression index).
DUPLICATES_SQL = text(r"""
WITH c AS (
    SELECT * FROM unnest(CAST(:idx AS int[]), CAST(:lon AS float8[]), CAST(:lat AS float8[]),
                         CAST(:name AS text[]), CAST(:web AS text[]))
           AS c(idx, lon, lat, name, web)
)
SELECT c.idx, m.id, m.slug, m.name, m.meters, m.sim, m.why
FROM c CROSS JOIN LATERAL (
    (SELECT e.id, e.slug, e.name,
            ST_Distance(e.geom::geography,
                        ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326)::geography) AS meters,
            similarity(public.atlas_unaccent(lower(e.name)),
                       public.atlas_unaccent(lower(c.name))) AS sim,
            'near' AS why
     FROM entries e
     WHERE c.lon IS NOT NULL AND e.deleted_at IS NULL
       AND ST_DWithin(e.geom::geography,
                      ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326)::geography, :radius)
       AND similarity(public.atlas_unaccent(lower(e.name)),
                      public.atlas_unaccent(lower(c.name))) >= :threshold
     ORDER BY sim DESC, meters LIMIT 1)
    UNION ALL
    (SELECT e.id, e.slug, e.name, NULL::float8, NULL::float4, 'website'
     FROM entries e
     WHERE c.web IS NOT NULL AND e.website IS NOT NULL AND e.deleted_at IS NULL
       AND regexp_replace(lower(e.website), '^https?://(www\.)?|/+$', '', 'g') = c.web
     LIMIT 1)
    LIMIT 1
) m
""")


def website_key(url: str | None) -> str | None:
    """The key of ix_entries_website_key: no scheme, no www., no trailing slash."""
    return WEBSITE_KEY.sub("", url.lower()) if url else None


def twin_reason(row) -> str:
    """Why a row of DUPLICATES_SQL is a twin, for a report."""
    if row.why == "near":
        return f"{row.meters:.0f} m from {row.name!r}, similar name (similarity {row.sim:.2f})"
    return f"same website as {row.name!r}"
