"""Citizens' error reports on entries and the editors' queue (app/models/report.py).

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "error_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", UUID(as_uuid=True), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("message", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("client_key", sa.String(length=64), nullable=False),
        sa.Column("session_key", sa.String(length=64), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_by_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint("reason IN ('closed', 'moved', 'wrong', 'duplicate')",
                           name="ck_error_reports_reason"),
        sa.ForeignKeyConstraint(["entry_id"], ["entries.id"],
                                name="fk_error_reports_entry_id_entries", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["handled_by_id"], ["users.id"],
                                name="fk_error_reports_handled_by_id_users",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_error_reports"),
    )
    op.create_index("ix_error_reports_entry_id", "error_reports", ["entry_id"])
    op.create_index("ix_error_reports_client_created", "error_reports",
                    ["client_key", "created_at"])
    op.create_index("ix_error_reports_session_created", "error_reports",
                    ["session_key", "created_at"])
    op.create_index("ix_error_reports_handled_created", "error_reports",
                    ["handled_at", "created_at"])


def downgrade() -> None:
    op.drop_table("error_reports")
