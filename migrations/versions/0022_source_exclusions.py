"""Links an editor can undo: a source detached from an entry stays detached
(source_exclusions), and a source's record linked to an existing entry as its twin
says why (sources.linked_reason).

An editor who detaches a source from an entry removes its record there (the Source
row and the fields it held); the exclusion keeps the source's next runs (imports and
pulls) from feeding that entry again or creating it anew. The public entry page lists
an entry's sources, so an exclusion moves the data state (migration 0010's trigger).
The partial index serves the editors' list of recent links.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_exclusions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=80), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("entry_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["entries.id"],
                                name="fk_source_exclusions_entry_id_entries",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name="fk_source_exclusions_user_id_users",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_source_exclusions"),
        sa.UniqueConstraint("origin", "external_id",
                            name="uq_source_exclusions_origin_external_id"),
    )
    op.create_index("ix_source_exclusions_entry_id", "source_exclusions", ["entry_id"])
    op.execute("""
        CREATE TRIGGER source_exclusions_log_change
        AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON source_exclusions
        FOR EACH STATEMENT EXECUTE FUNCTION public.atlas_log_change()""")
    op.add_column("sources", sa.Column("linked_reason", sa.String(length=300), nullable=True))
    op.create_index("ix_sources_linked", "sources", ["first_seen_at"],
                    postgresql_where=sa.text("linked_reason IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_sources_linked", table_name="sources")
    op.drop_column("sources", "linked_reason")
    op.drop_index("ix_source_exclusions_entry_id", table_name="source_exclusions")
    op.drop_table("source_exclusions")
