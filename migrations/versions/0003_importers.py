"""Importers: more counts on import runs; indexes for duplicate detection and slugs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = "0002"
branch_labels = None
depends_on = None

WEBSITE_KEY = r"regexp_replace(lower(website), '^https?://(www\.)?|/+$', '', 'g')"


def upgrade() -> None:
    op.add_column('import_runs', sa.Column('mapping', sa.String(length=1000), nullable=True))
    op.add_column('import_runs', sa.Column('author_label', sa.String(length=120), nullable=True))
    op.add_column('import_runs', sa.Column('skipped', sa.Integer(), server_default='0', nullable=False))
    op.add_column('import_runs', sa.Column('missing', sa.Integer(), server_default='0', nullable=False))
    op.add_column('import_runs', sa.Column('closed', sa.Integer(), server_default='0', nullable=False))
    op.add_column('import_runs', sa.Column('warnings', sa.Integer(), server_default='0', nullable=False))
    op.add_column('import_runs', sa.Column('error', sa.Text(), nullable=True))
    # "<base>-%" slug look-ups of batch creation, whatever the collation.
    op.execute("CREATE INDEX ix_entries_slug_pattern ON entries (slug text_pattern_ops)")
    # "Same website" duplicate detection: scheme, www. and trailing slashes ignored.
    op.execute(f"CREATE INDEX ix_entries_website_key ON entries (({WEBSITE_KEY})) "
               "WHERE website IS NOT NULL")
    op.create_index('ix_sources_origin_last_seen', 'sources', ['origin', 'last_seen_at'])


def downgrade() -> None:
    op.drop_index('ix_sources_origin_last_seen', table_name='sources')
    op.execute("DROP INDEX ix_entries_website_key")
    op.execute("DROP INDEX ix_entries_slug_pattern")
    for column in ('error', 'warnings', 'closed', 'missing', 'skipped', 'author_label',
                   'mapping'):
        op.drop_column('import_runs', column)
