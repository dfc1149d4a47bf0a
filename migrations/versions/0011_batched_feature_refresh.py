"""Stored features are refreshed in batches of 20,000 entries, whatever the statement.

One `atlas_refresh_features` call over a million ids wrote about 500 features a
second (the plan of `id = ANY(ids)` over a huge array goes bitmap and sorts), against
8,700 a second in batches of 20,000. The importers batched already; a tag renamed
on most entries, a merge or a restore did not. The triggers of migration 0007 now
call `atlas_refresh_features_batched`, which slices the ids; `atlas.feature_batch`
sets the slice for a transaction (tests use a small one).

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BATCHED = """
CREATE FUNCTION public.atlas_refresh_features_batched(ids uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    size integer := coalesce(nullif(current_setting('atlas.feature_batch', true), ''),
                             '20000')::integer;
    total integer := coalesce(cardinality(ids), 0);
    start integer := 1;
BEGIN
    WHILE start <= total LOOP
        PERFORM public.atlas_refresh_features(ids[start:start + size - 1]);
        start := start + size;
    END LOOP;
END
$$"""

TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION public.{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF coalesce(current_setting('atlas.defer_features', true), '') <> 'on' THEN
        PERFORM public.{refresh}(ARRAY({ids}));
    END IF;
    RETURN NULL;
END
$$"""
# As in migration 0007.
TRIGGER_FUNCTIONS = {
    "atlas_features_of_entries": "SELECT id FROM changed",
    "atlas_features_of_entry_tags": "SELECT DISTINCT entry_id FROM changed",
    "atlas_features_of_tags": "SELECT DISTINCT t.entry_id FROM entry_tags t "
                              "JOIN changed c ON c.id = t.tag_id",
}


def _triggers_call(refresh: str) -> None:
    for name, ids in TRIGGER_FUNCTIONS.items():
        op.execute(TRIGGER_FUNCTION.format(name=name, refresh=refresh, ids=ids))


def upgrade() -> None:
    op.execute(BATCHED)
    _triggers_call("atlas_refresh_features_batched")


def downgrade() -> None:
    _triggers_call("atlas_refresh_features")
    op.execute("DROP FUNCTION public.atlas_refresh_features_batched(uuid[])")
