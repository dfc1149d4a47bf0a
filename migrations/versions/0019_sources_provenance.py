"""A registry of sources (registered_sources) and who gave each field of an entry
(entry_field_sources).

A registered source is a named feed (another Atlas, a GoGoCarto instance, an
OpenFairDB API, an Overpass area, a CSV or GeoJSON URL) with its licence, priority,
schedule and credential; its runs go through the one import pipeline. An entry
field's provenance row says who holds its value now: a source (its origin) or an
editor (origin NULL), the value's hash and since when. Both reach public pages (the
entry page names a field's source by the registry's label), so both move the data
state (migration 0010's trigger).

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

KINDS = ("atlas", "gogocarto", "openfairdb", "overpass", "csv", "geojson")


def upgrade() -> None:
    op.create_table(
        "registered_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("origin", sa.String(length=80), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("mapping", sa.String(length=1000), nullable=True),
        sa.Column("area", sa.String(length=200), nullable=True),
        sa.Column("options", postgresql.JSONB(astext_type=sa.Text()),
                  server_default="{}", nullable=False),
        sa.Column("licence", sa.String(length=200), nullable=True),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("schedule_hours", sa.Integer(), nullable=True),
        sa.Column("paused", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("credential", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.Column("last_test", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('" + "', '".join(KINDS) + "')",
                           name="ck_registered_sources_kind"),
        sa.CheckConstraint("schedule_hours IS NULL OR schedule_hours > 0",
                           name="ck_registered_sources_schedule"),
        sa.ForeignKeyConstraint(["last_run_id"], ["import_runs.id"],
                                name="fk_registered_sources_last_run_id_import_runs",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_registered_sources"),
        sa.UniqueConstraint("name", name="uq_registered_sources_name"),
        sa.UniqueConstraint("origin", name="uq_registered_sources_origin"),
    )
    op.create_table(
        "entry_field_sources",
        sa.Column("entry_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("origin", sa.String(length=80), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("value_hash", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["entries.id"],
                                name="fk_entry_field_sources_entry_id_entries",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name="fk_entry_field_sources_user_id_users",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("entry_id", "field", name="pk_entry_field_sources"),
    )
    op.create_index("ix_entry_field_sources_origin", "entry_field_sources", ["origin"])
    for table in ("registered_sources", "entry_field_sources"):
        op.execute(f"""
            CREATE TRIGGER {table}_log_change
            AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION public.atlas_log_change()""")


def downgrade() -> None:
    op.drop_index("ix_entry_field_sources_origin", table_name="entry_field_sources")
    op.drop_table("entry_field_sources")
    op.drop_table("registered_sources")
