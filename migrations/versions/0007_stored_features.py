"""Stored features: each entry's GeoJSON Feature kept as text, written by PostgreSQL.

Items pages and feeds read one stored text per entry instead of building the JSON
of a thousand entries per request. Statement-level triggers (one set-based refresh
per statement, from its transition table) keep the copies current whenever an
entry, its tags or a tag's slug change, whoever writes. A bulk writer may set
`atlas.defer_features` to 'on' for its transaction and refresh its entries once
at the end (`app.services.entries.create_entries` does).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

REFRESH_FUNCTION = "atlas_refresh_features"
# app.formats.geojson.feature_functions_sql() as it was at this revision, frozen here
# (a later change of the public fields needs a migration of its own that replaces
# the functions; tests/test_stored_features.py fails until there is one).
REFRESH_SQL = """CREATE OR REPLACE FUNCTION public.atlas_refresh_features(ids uuid[])
RETURNS void LANGUAGE sql SET "TimeZone" TO 'UTC' AS $function$
INSERT INTO entry_features AS stored (entry_id, feature)
SELECT entries.id, CAST(json_build_object('type', 'Feature', 'id', CAST(entries.id AS TEXT), 'geometry', CAST(ST_AsGeoJSON(entries.geom, 7) AS JSON), 'properties', json_build_object('slug', entries.slug, 'kind', entries.kind, 'name', entries.name, 'summary', entries.summary, 'description', entries.description, 'status', entries.status, 'street', entries.street, 'postcode', entries.postcode, 'city', entries.city, 'country', entries.country, 'website', entries.website, 'email', entries.email, 'phone', entries.phone, 'opening_hours', entries.opening_hours, 'licence', entries.licence, 'founded', entries.founded, 'tags', (SELECT coalesce(array_agg(tags.slug ORDER BY tags.slug), ARRAY[]::TEXT[]) AS coalesce_1
FROM entry_tags JOIN tags ON tags.id = entry_tags.tag_id
WHERE entry_tags.entry_id = entries.id), 'created_at', entries.created_at, 'updated_at', entries.updated_at, 'version', entries.version)) AS TEXT) AS json_build_object_1
FROM entries
WHERE entries.id = ANY($1)
ON CONFLICT (entry_id) DO UPDATE SET feature = EXCLUDED.feature
WHERE stored.feature IS DISTINCT FROM EXCLUDED.feature
$function$"""
FEATURE_SQL = """CREATE OR REPLACE FUNCTION public.atlas_feature(entry_id uuid)
RETURNS text LANGUAGE sql STABLE SET "TimeZone" TO 'UTC' AS $function$
SELECT CAST(json_build_object('type', 'Feature', 'id', CAST(entries.id AS TEXT), 'geometry', CAST(ST_AsGeoJSON(entries.geom, 7) AS JSON), 'properties', json_build_object('slug', entries.slug, 'kind', entries.kind, 'name', entries.name, 'summary', entries.summary, 'description', entries.description, 'status', entries.status, 'street', entries.street, 'postcode', entries.postcode, 'city', entries.city, 'country', entries.country, 'website', entries.website, 'email', entries.email, 'phone', entries.phone, 'opening_hours', entries.opening_hours, 'licence', entries.licence, 'founded', entries.founded, 'tags', (SELECT coalesce(array_agg(tags.slug ORDER BY tags.slug), ARRAY[]::TEXT[]) AS coalesce_1
FROM entry_tags JOIN tags ON tags.id = entry_tags.tag_id
WHERE entry_tags.entry_id = entries.id), 'created_at', entries.created_at, 'updated_at', entries.updated_at, 'version', entries.version)) AS TEXT) AS json_build_object_1
FROM entries
WHERE entries.id = $1
$function$"""

REFRESH_FROM = """
CREATE FUNCTION public.{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('atlas.defer_features', true), '') <> 'on' THEN
        PERFORM public.{refresh}(ARRAY({ids}));
    END IF;
    RETURN NULL;
END
$$"""
TRIGGER_FUNCTIONS = {
    "atlas_features_of_entries": "SELECT id FROM changed",
    "atlas_features_of_entry_tags": "SELECT DISTINCT entry_id FROM changed",
    "atlas_features_of_tags": "SELECT DISTINCT t.entry_id FROM entry_tags t "
                              "JOIN changed c ON c.id = t.tag_id",
}
# (trigger, table, event, transition table, function)
TRIGGERS = (
    ("entries_features_insert", "entries", "INSERT", "NEW", "atlas_features_of_entries"),
    ("entries_features_update", "entries", "UPDATE", "NEW", "atlas_features_of_entries"),
    ("entry_tags_features_insert", "entry_tags", "INSERT", "NEW",
     "atlas_features_of_entry_tags"),
    ("entry_tags_features_delete", "entry_tags", "DELETE", "OLD",
     "atlas_features_of_entry_tags"),
    ("tags_features_update", "tags", "UPDATE", "NEW", "atlas_features_of_tags"),
)


def upgrade() -> None:
    op.create_table(
        "entry_features",
        sa.Column("entry_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("feature", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["entries.id"],
                                name="fk_entry_features_entry_id_entries", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("entry_id", name="pk_entry_features"),
    )
    op.execute(REFRESH_SQL)
    op.execute(FEATURE_SQL)
    for name, ids in TRIGGER_FUNCTIONS.items():
        op.execute(REFRESH_FROM.format(name=name, refresh=REFRESH_FUNCTION, ids=ids))
    for trigger, table, event, transition, function in TRIGGERS:
        op.execute(f"CREATE TRIGGER {trigger} AFTER {event} ON {table} "
                   f"REFERENCING {transition} TABLE AS changed "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION public.{function}()")
    op.execute(f"SELECT public.{REFRESH_FUNCTION}(ARRAY(SELECT id FROM entries))")  # noqa: S608


def downgrade() -> None:
    for trigger, table, *_ in TRIGGERS:
        op.execute(f"DROP TRIGGER {trigger} ON {table}")
    for name in TRIGGER_FUNCTIONS:
        op.execute(f"DROP FUNCTION public.{name}()")
    op.execute(f"DROP FUNCTION public.{REFRESH_FUNCTION}(uuid[])")
    op.execute("DROP FUNCTION public.atlas_feature(uuid)")
    op.drop_table("entry_features")
