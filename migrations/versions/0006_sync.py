"""Sync: the cursors of pulls and pushes, and what each push target acknowledged.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("succeeded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.CheckConstraint("direction IN ('pull', 'push')", name="ck_sync_states_direction"),
        sa.PrimaryKeyConstraint("id", name="pk_sync_states"),
        sa.UniqueConstraint("direction", "url", name="uq_sync_states_direction_url"),
    )
    op.create_table(
        "sync_pushed",
        sa.Column("state_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("remote_version", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.CheckConstraint("state IN ('sent', 'deleted', 'refused')",
                           name="ck_sync_pushed_state"),
        sa.ForeignKeyConstraint(["state_id"], ["sync_states.id"],
                                name="fk_sync_pushed_state_id_sync_states", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("state_id", "entry_id", name="pk_sync_pushed"),
    )


def downgrade() -> None:
    op.drop_table("sync_pushed")
    op.drop_table("sync_states")
