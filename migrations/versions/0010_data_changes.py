"""Data changes: one row per statement that writes a small table, for the data state.

The data state behind every ETag (app.query.state) used to hash the xmin of every
row of tags, evaluation keys, sheets and answers on each request: ten times slower
reads once an assemblée has filled 20,000 sheets. Instead a statement-level trigger
on each of those tables appends one row holding the writing transaction's id, and
the data state reads the highest one with an index look-up, as it does for
`entries.change_xid`. Rows are appended, never updated, so concurrent writers never
wait on each other; old rows are pruned by the trigger itself, never the row with
the highest transaction id, so the state only ever moves forward. The newest row's
time moves Last-Modified for a sheet saved after the last entry changed.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLES = ("tags", "entry_tags", "relations", "evaluation_keys", "evaluations", "answers")


def upgrade() -> None:
    op.execute("""
        CREATE TABLE data_changes (
            id bigint GENERATED ALWAYS AS IDENTITY,
            change_xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
            table_name text NOT NULL,
            changed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            CONSTRAINT pk_data_changes PRIMARY KEY (id)
        )""")
    op.create_index("ix_data_changes_change_xid", "data_changes", ["change_xid"])
    op.execute("""
        CREATE FUNCTION public.atlas_log_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            new_id bigint;
        BEGIN
            INSERT INTO data_changes (table_name) VALUES (TG_TABLE_NAME) RETURNING id INTO new_id;
            IF new_id % 1000 = 0 THEN
                -- Rows below the highest id visible here (committed, or this one) only.
                -- Another pruner's rows are skipped, never waited for.
                DELETE FROM data_changes WHERE id IN (
                    SELECT id FROM data_changes
                    WHERE id <= new_id - 1000
                      AND change_xid < (SELECT change_xid FROM data_changes
                                        ORDER BY change_xid DESC LIMIT 1)
                    FOR UPDATE SKIP LOCKED);
            END IF;
            RETURN NULL;
        END $$""")
    for table in TABLES:
        op.execute(f"""
            CREATE TRIGGER {table}_log_change
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION public.atlas_log_change()""")
    # The state as it is now counts as one change.
    op.execute("INSERT INTO data_changes (table_name) VALUES ('migration 0010')")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_log_change ON {table}")
    op.execute("DROP FUNCTION public.atlas_log_change()")
    op.drop_index("ix_data_changes_change_xid", table_name="data_changes")
    op.drop_table("data_changes")

