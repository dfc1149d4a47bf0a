"""An entry's identifiers in other registers, and the INSEE code of its commune.

`siret`, `rna`, `wikidata`, `osm_object` (app/identifiers.py) and `insee_code`: new
public fields of the registry (app/entry_fields.py), so the stored features' functions
are re-created from `app.formats.geojson.feature_functions_sql()` as it is at this
revision (frozen below) and every entry's feature is refreshed, in slices (migration
0011). The columns start empty: importers and editors fill them.

Revision ID: 0013
Revises: 0012
"""

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

COLUMNS = (("insee_code", 5), ("siret", 14), ("rna", 10), ("wikidata", 20),
           ("osm_object", 40))
# app.formats.geojson.feature_functions_sql() at this revision.
REFRESH_SQL = """CREATE OR REPLACE FUNCTION public.atlas_refresh_features(ids uuid[])
RETURNS void LANGUAGE sql SET "TimeZone" TO 'UTC' AS $function$
INSERT INTO entry_features AS stored (entry_id, feature)
SELECT entries.id, CAST(json_build_object('type', 'Feature', 'id', CAST(entries.id AS TEXT), 'geometry', CAST(ST_AsGeoJSON(entries.geom, 7) AS JSON), 'properties', json_build_object('slug', entries.slug, 'kind', entries.kind, 'name', entries.name, 'summary', entries.summary, 'description', entries.description, 'status', entries.status, 'street', entries.street, 'postcode', entries.postcode, 'city', entries.city, 'country', entries.country, 'insee_code', entries.insee_code, 'website', entries.website, 'email', entries.email, 'phone', entries.phone, 'opening_hours', entries.opening_hours, 'licence', entries.licence, 'founded', entries.founded, 'siret', entries.siret, 'rna', entries.rna, 'wikidata', entries.wikidata, 'osm_object', entries.osm_object, 'tags', (SELECT coalesce(array_agg(tags.slug ORDER BY tags.slug), ARRAY[]::TEXT[]) AS coalesce_1
FROM entry_tags JOIN tags ON tags.id = entry_tags.tag_id
WHERE entry_tags.entry_id = entries.id), 'created_at', entries.created_at, 'updated_at', entries.updated_at, 'version', entries.version)) AS TEXT) AS json_build_object_1
FROM entries
WHERE entries.id = ANY($1)
ON CONFLICT (entry_id) DO UPDATE SET feature = EXCLUDED.feature
WHERE stored.feature IS DISTINCT FROM EXCLUDED.feature
$function$"""
FEATURE_SQL = """CREATE OR REPLACE FUNCTION public.atlas_feature(entry_id uuid)
RETURNS text LANGUAGE sql STABLE SET "TimeZone" TO 'UTC' AS $function$
SELECT CAST(json_build_object('type', 'Feature', 'id', CAST(entries.id AS TEXT), 'geometry', CAST(ST_AsGeoJSON(entries.geom, 7) AS JSON), 'properties', json_build_object('slug', entries.slug, 'kind', entries.kind, 'name', entries.name, 'summary', entries.summary, 'description', entries.description, 'status', entries.status, 'street', entries.street, 'postcode', entries.postcode, 'city', entries.city, 'country', entries.country, 'insee_code', entries.insee_code, 'website', entries.website, 'email', entries.email, 'phone', entries.phone, 'opening_hours', entries.opening_hours, 'licence', entries.licence, 'founded', entries.founded, 'siret', entries.siret, 'rna', entries.rna, 'wikidata', entries.wikidata, 'osm_object', entries.osm_object, 'tags', (SELECT coalesce(array_agg(tags.slug ORDER BY tags.slug), ARRAY[]::TEXT[]) AS coalesce_1
FROM entry_tags JOIN tags ON tags.id = entry_tags.tag_id
WHERE entry_tags.entry_id = entries.id), 'created_at', entries.created_at, 'updated_at', entries.updated_at, 'version', entries.version)) AS TEXT) AS json_build_object_1
FROM entries
WHERE entries.id = $1
$function$"""


def upgrade() -> None:
    for name, length in COLUMNS:
        op.add_column("entries", sa.Column(name, sa.String(length=length), nullable=True))
    op.execute(REFRESH_SQL)
    op.execute(FEATURE_SQL)
    op.execute("SELECT public.atlas_refresh_features_batched(ARRAY(SELECT id FROM entries))")


def downgrade() -> None:
    # The functions of before: those frozen by migration 0007 (no later one changed them).
    spec = importlib.util.spec_from_file_location(
        "stored_features_0007", Path(__file__).with_name("0007_stored_features.py"))
    before = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(before)
    op.execute(before.REFRESH_SQL)
    op.execute(before.FEATURE_SQL)
    for name, _length in reversed(COLUMNS):
        op.drop_column("entries", name)
    op.execute("SELECT public.atlas_refresh_features_batched(ARRAY(SELECT id FROM entries))")
