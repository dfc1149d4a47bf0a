"""Change feed: entries.change_xid, the writing transaction's id, set by a trigger.

The feed (`/api/v1/changes`) orders rows by (change_xid, id) and only hands out
rows whose transaction is older than every transaction still running
(`pg_snapshot_xmin`), so a transaction that commits late can never be stepped over.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from app.models.entry import XID8

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("entries", sa.Column("change_xid", XID8(), nullable=True))
    op.execute("UPDATE entries SET change_xid = pg_current_xact_id()")
    op.alter_column("entries", "change_xid", nullable=False)
    op.execute("""
        CREATE FUNCTION public.atlas_set_change_xid() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            NEW.change_xid := pg_current_xact_id();
            RETURN NEW;
        END
        $$""")
    op.execute("""
        CREATE TRIGGER entries_change_xid BEFORE INSERT OR UPDATE ON entries
        FOR EACH ROW EXECUTE FUNCTION public.atlas_set_change_xid()""")
    op.create_index("ix_entries_change", "entries", ["change_xid", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_entries_change", table_name="entries")
    op.execute("DROP TRIGGER entries_change_xid ON entries")
    op.execute("DROP FUNCTION public.atlas_set_change_xid()")
    op.drop_column("entries", "change_xid")
