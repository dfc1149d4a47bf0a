"""Scheduled jobs: a record of each run of `atlas jobs run NAME` (app/jobs).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), server_default="running", nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("import_run_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("outcome IN ('running', 'succeeded', 'failed', 'skipped')",
                           name="ck_job_runs_outcome"),
        sa.ForeignKeyConstraint(["import_run_id"], ["import_runs.id"],
                                name="fk_job_runs_import_run_id_import_runs",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_job_runs"),
    )
    op.create_index("ix_job_runs_name_started", "job_runs", ["name", "started_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_job_runs_name_started", table_name="job_runs")
    op.drop_table("job_runs")
