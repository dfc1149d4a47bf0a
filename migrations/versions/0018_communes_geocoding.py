"""Communes of France and the address service's answers.

`communes` and `commune_loads` (app/models/commune.py), `geocode_answers`
(app/models/geocode.py). `entries.insee_code`, which the commune list fills, and its
place in the stored features are migration 0013's.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "commune_loads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("integrity", sa.Text(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_commune_loads"),
    )
    op.create_table(
        "communes",
        sa.Column("code", sa.String(length=5), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_code", sa.String(length=5), nullable=True),
        sa.Column("department", sa.String(length=3), nullable=False),
        sa.Column("region", sa.String(length=3), nullable=True),
        sa.Column("postcodes", postgresql.ARRAY(sa.String(length=5)), server_default="{}",
                  nullable=False),
        sa.Column("population", sa.Integer(), nullable=True),
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["load_id"], ["commune_loads.id"],
                                name="fk_communes_load_id_commune_loads", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("code", "kind", name="pk_communes"),
    )
    op.create_index("ix_communes_department", "communes", ["department"], unique=False)
    op.create_index("ix_communes_load_id", "communes", ["load_id"], unique=False)
    op.create_table(
        "geocode_answers",
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("answer", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.PrimaryKeyConstraint("kind", "query", name="pk_geocode_answers"),
    )


def downgrade() -> None:
    op.drop_table("geocode_answers")
    op.drop_index("ix_communes_load_id", table_name="communes")
    op.drop_index("ix_communes_department", table_name="communes")
    op.drop_table("communes")
    op.drop_table("commune_loads")
