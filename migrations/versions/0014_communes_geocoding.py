"""Communes of France, the INSEE code of an entry, the address service's answers.

`communes` and `commune_loads` (app/models/commune.py), `geocode_answers`
(app/models/geocode.py), `entries.insee_code` (app/entry_fields.py), and the stored
features' functions re-created from app.formats.geojson.feature_functions_sql() now
that the public fields include it (frozen here), then every entry's feature refreshed.

Revision ID: 0014
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None

# app.formats.geojson.feature_functions_sql() with insee_code, frozen here.
FUNCTIONS_UP = ['CREATE OR REPLACE FUNCTION public.atlas_refresh_features(ids uuid[])\nRETURNS void LANGUAGE sql SET "TimeZone" TO \'UTC\' AS $function$\nINSERT INTO entry_features AS stored (entry_id, feature)\nSELECT entries.id, CAST(json_build_object(\'type\', \'Feature\', \'id\', CAST(entries.id AS TEXT), \'geometry\', CAST(ST_AsGeoJSON(entries.geom, 7) AS JSON), \'properties\', json_build_object(\'slug\', entries.slug, \'kind\', entries.kind, \'name\', entries.name, \'summary\', entries.summary, \'description\', entries.description, \'status\', entries.status, \'street\', entries.street, \'postcode\', entries.postcode, \'city\', entries.city, \'country\', entries.country, \'insee_code\', entries.insee_code, \'website\', entries.website, \'email\', entries.email, \'phone\', entries.phone, \'opening_hours\', entries.opening_hours, \'licence\', entries.licence, \'founded\', entries.founded, \'tags\', (SELECT coalesce(array_agg(tags.slug ORDER BY tags.slug), ARRAY[]::TEXT[]) AS coalesce_1\nFROM entry_tags JOIN tags ON tags.id = entry_tags.tag_id\nWHERE entry_tags.entry_id = entries.id), \'created_at\', entries.created_at, \'updated_at\', entries.updated_at, \'version\', entries.version)) AS TEXT) AS json_build_object_1\nFROM entries\nWHERE entries.id = ANY($1)\nON CONFLICT (entry_id) DO UPDATE SET feature = EXCLUDED.feature\nWHERE stored.feature IS DISTINCT FROM EXCLUDED.feature\n$function$',
                'CREATE OR REPLACE FUNCTION public.atlas_feature(entry_id uuid)\nRETURNS text LANGUAGE sql STABLE SET "TimeZone" TO \'UTC\' AS $function$\nSELECT CAST(json_build_object(\'type\', \'Feature\', \'id\', CAST(entries.id AS TEXT), \'geometry\', CAST(ST_AsGeoJSON(entries.geom, 7) AS JSON), \'properties\', json_build_object(\'slug\', entries.slug, \'kind\', entries.kind, \'name\', entries.name, \'summary\', entries.summary, \'description\', entries.description, \'status\', entries.status, \'street\', entries.street, \'postcode\', entries.postcode, \'city\', entries.city, \'country\', entries.country, \'insee_code\', entries.insee_code, \'website\', entries.website, \'email\', entries.email, \'phone\', entries.phone, \'opening_hours\', entries.opening_hours, \'licence\', entries.licence, \'founded\', entries.founded, \'tags\', (SELECT coalesce(array_agg(tags.slug ORDER BY tags.slug), ARRAY[]::TEXT[]) AS coalesce_1\nFROM entry_tags JOIN tags ON tags.id = entry_tags.tag_id\nWHERE entry_tags.entry_id = entries.id), \'created_at\', entries.created_at, \'updated_at\', entries.updated_at, \'version\', entries.version)) AS TEXT) AS json_build_object_1\nFROM entries\nWHERE entries.id = $1\n$function$']
# 0007's functions, for the downgrade.
FUNCTIONS_DOWN = ['CREATE OR REPLACE FUNCTION public.atlas_refresh_features(ids uuid[])\nRETURNS void LANGUAGE sql SET "TimeZone" TO \'UTC\' AS $function$\nINSERT INTO entry_features AS stored (entry_id, feature)\nSELECT entries.id, CAST(json_build_object(\'type\', \'Feature\', \'id\', CAST(entries.id AS TEXT), \'geometry\', CAST(ST_AsGeoJSON(entries.geom, 7) AS JSON), \'properties\', json_build_object(\'slug\', entries.slug, \'kind\', entries.kind, \'name\', entries.name, \'summary\', entries.summary, \'description\', entries.description, \'status\', entries.status, \'street\', entries.street, \'postcode\', entries.postcode, \'city\', entries.city, \'country\', entries.country, \'website\', entries.website, \'email\', entries.email, \'phone\', entries.phone, \'opening_hours\', entries.opening_hours, \'licence\', entries.licence, \'founded\', entries.founded, \'tags\', (SELECT coalesce(array_agg(tags.slug ORDER BY tags.slug), ARRAY[]::TEXT[]) AS coalesce_1\nFROM entry_tags JOIN tags ON tags.id = entry_tags.tag_id\nWHERE entry_tags.entry_id = entries.id), \'created_at\', entries.created_at, \'updated_at\', entries.updated_at, \'version\', entries.version)) AS TEXT) AS json_build_object_1\nFROM entries\nWHERE entries.id = ANY($1)\nON CONFLICT (entry_id) DO UPDATE SET feature = EXCLUDED.feature\nWHERE stored.feature IS DISTINCT FROM EXCLUDED.feature\n$function$',
                  'CREATE OR REPLACE FUNCTION public.atlas_feature(entry_id uuid)\nRETURNS text LANGUAGE sql STABLE SET "TimeZone" TO \'UTC\' AS $function$\nSELECT CAST(json_build_object(\'type\', \'Feature\', \'id\', CAST(entries.id AS TEXT), \'geometry\', CAST(ST_AsGeoJSON(entries.geom, 7) AS JSON), \'properties\', json_build_object(\'slug\', entries.slug, \'kind\', entries.kind, \'name\', entries.name, \'summary\', entries.summary, \'description\', entries.description, \'status\', entries.status, \'street\', entries.street, \'postcode\', entries.postcode, \'city\', entries.city, \'country\', entries.country, \'website\', entries.website, \'email\', entries.email, \'phone\', entries.phone, \'opening_hours\', entries.opening_hours, \'licence\', entries.licence, \'founded\', entries.founded, \'tags\', (SELECT coalesce(array_agg(tags.slug ORDER BY tags.slug), ARRAY[]::TEXT[]) AS coalesce_1\nFROM entry_tags JOIN tags ON tags.id = entry_tags.tag_id\nWHERE entry_tags.entry_id = entries.id), \'created_at\', entries.created_at, \'updated_at\', entries.updated_at, \'version\', entries.version)) AS TEXT) AS json_build_object_1\nFROM entries\nWHERE entries.id = $1\n$function$']


def upgrade() -> None:
    op.create_table(
        "commune_loads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("integrity", sa.Text(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_commune_loads"),
    )
    op.create_table(
        "communes",
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_code", sa.String(length=5), nullable=True),
        sa.Column("department", sa.String(length=3), nullable=False),
        sa.Column("region", sa.String(length=3), nullable=True),
        sa.Column("postcodes", postgresql.ARRAY(sa.String(length=5)), server_default="{}",
                  nullable=False),
        sa.Column("population", sa.Integer(), nullable=True),
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["load_id"], ["commune_loads.id"],
                                name="fk_communes_load_id_commune_loads", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("code", "kind", name="pk_communes"),
    )
    op.create_index("ix_communes_department", "communes", ["department"], unique=False)
    op.create_index("ix_communes_load_id", "communes", ["load_id"], unique=False)
    op.create_table(
        "geocode_answers",
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("answer", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.PrimaryKeyConstraint("kind", "query", name="pk_geocode_answers"),
    )
    op.add_column("entries", sa.Column("insee_code", sa.String(length=5), nullable=True))
    for sql in FUNCTIONS_UP:
        op.execute(sql)
    op.execute("SELECT public.atlas_refresh_features(ARRAY(SELECT id FROM entries))")


def downgrade() -> None:
    op.drop_column("entries", "insee_code")
    for sql in FUNCTIONS_DOWN:
        op.execute(sql)
    op.execute("SELECT public.atlas_refresh_features(ARRAY(SELECT id FROM entries))")
    op.drop_table("geocode_answers")
    op.drop_index("ix_communes_load_id", table_name="communes")
    op.drop_index("ix_communes_department", table_name="communes")
    op.drop_table("communes")
    op.drop_table("commune_loads")
