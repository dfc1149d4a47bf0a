"""Proposals: contributors' creations and edits waiting for an editor.

A proposed edit of a published entry is stored here, not in the entry, so the
published version stays what the public sees until an editor accepts it.

Revision ID: 0005
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.UUID(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_label", sa.String(length=120), nullable=True),
        sa.Column("contact", sa.String(length=254), nullable=True),
        sa.Column("comment", sa.String(length=1000), nullable=True),
        sa.Column("state", sa.String(length=20), server_default="pending", nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column("review_comment", sa.String(length=1000), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.CheckConstraint("action IN ('create', 'update')", name=op.f("ck_proposals_action")),
        sa.CheckConstraint("state IN ('pending', 'accepted', 'rejected')",
                           name=op.f("ck_proposals_state")),
        sa.CheckConstraint("action = 'create' OR data IS NOT NULL",
                           name=op.f("ck_proposals_edit_has_data")),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"],
                                name=op.f("fk_proposals_author_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["entry_id"], ["entries.id"],
                                name=op.f("fk_proposals_entry_id_entries"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"],
                                name=op.f("fk_proposals_reviewer_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposals")),
    )
    op.create_index("ix_proposals_entry_id", "proposals", ["entry_id"], unique=False)
    op.create_index("ix_proposals_state_created", "proposals", ["state", "created_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_proposals_state_created", table_name="proposals")
    op.drop_index("ix_proposals_entry_id", table_name="proposals")
    op.drop_table("proposals")
