"""Keys and tags administered on pages; the language of a proposal.

Evaluation keys get a description (FR/EN), the definitions of their levels 0–4
(`level_definitions`, JSONB {"fr": [5 strings], "en": [5 strings]}) and a
retirement date: a retired key stays on the sheets that answered it and is left
out of new ones. Revisions may now record keys and tags ('evaluation_key', 'tag',
with the actions 'retire' and 'merge'), so that every change of the vocabulary
shows in a history. A proposal keeps the language it was written in, to tell its
author of the decision in that language.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

OLD_ENTITIES = "entity_type IN ('entry', 'evaluation')"
NEW_ENTITIES = "entity_type IN ('entry', 'evaluation', 'evaluation_key', 'tag')"
OLD_ACTIONS = "action IN ('create', 'update', 'delete', 'restore', 'revert')"
NEW_ACTIONS = "action IN ('create', 'update', 'delete', 'restore', 'revert', 'retire', 'merge')"


def _checks(entities: str, actions: str) -> None:
    op.drop_constraint(op.f("ck_revisions_entity_type"), "revisions", type_="check")
    op.drop_constraint(op.f("ck_revisions_action"), "revisions", type_="check")
    op.create_check_constraint(op.f("ck_revisions_entity_type"), "revisions", entities)
    op.create_check_constraint(op.f("ck_revisions_action"), "revisions", actions)


def upgrade() -> None:
    op.add_column("evaluation_keys", sa.Column("description_fr", sa.Text(), nullable=True))
    op.add_column("evaluation_keys", sa.Column("description_en", sa.Text(), nullable=True))
    op.add_column("evaluation_keys", sa.Column(
        "level_definitions", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column("evaluation_keys", sa.Column("retired_at", sa.DateTime(timezone=True),
                                               nullable=True))
    op.add_column("tags", sa.Column("description_fr", sa.Text(), nullable=True))
    op.add_column("tags", sa.Column("description_en", sa.Text(), nullable=True))
    op.add_column("proposals", sa.Column("locale", sa.String(length=8), nullable=True))
    _checks(NEW_ENTITIES, NEW_ACTIONS)


def downgrade() -> None:
    op.execute("DELETE FROM revisions WHERE entity_type IN ('evaluation_key', 'tag')")
    op.execute("UPDATE revisions SET action = 'update' WHERE action IN ('retire', 'merge')")
    _checks(OLD_ENTITIES, OLD_ACTIONS)
    op.drop_column("proposals", "locale")
    op.drop_column("tags", "description_en")
    op.drop_column("tags", "description_fr")
    op.drop_column("evaluation_keys", "retired_at")
    op.drop_column("evaluation_keys", "level_definitions")
    op.drop_column("evaluation_keys", "description_en")
    op.drop_column("evaluation_keys", "description_fr")
