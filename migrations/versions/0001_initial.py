"""The data model of DESIGN.md, with French search and the six evaluation keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


EVALUATION_KEYS = [
    ("governance", 1, "Gouvernance", "Governance",
     "Comment le commun est-il gouverné ? Quels atouts, quelles limites ?",
     "How is the commons governed? Strengths, limits?"),
    ("financing", 2, "Financement", "Financing",
     "Comment est-il financé, avec quelles limites, et comment l'argent est-il redistribué "
     "(salariés, frais, contributeurs rémunérés) ?",
     "How is it funded, with what limits, how is money redistributed (staff, costs, paying "
     "contributors)?"),
    ("contribution", 3, "Contribution", "Contribution",
     "Quels outils, quelle culture et quelles méthodes organisent l'action au sein du collectif ?",
     "What tools, culture and methods organise action inside the collective?"),
    ("sharing", 4, "Partage", "Sharing",
     "Comment la connaissance est-elle gérée et ouverte pour que d'autres puissent la copier, "
     "l'adapter, la mettre à jour ; comment les communs évitent-ils de se concurrencer ?",
     "How is knowledge managed and opened so that others can copy, adapt, update it; how do "
     "commons avoid competing?"),
    ("legal", 5, "Juridique", "Legal",
     "Quelle structure juridique et quelle organisation ; quelles licences sur les savoirs et "
     "les logiciels ?",
     "Which legal structure and organisation; which licences on knowledge and software?"),
    ("partners", 6, "Partenaires", "Partners",
     "Quels soutiens ou liens avec les acteurs publics, et avec l'activité marchande privée ?",
     "What support or links with public bodies, and with private market activity?"),
]


def upgrade() -> None:
    # Extensions: PostGIS for places, unaccent and pg_trgm for French search.
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    # unaccent() is only STABLE; an IMMUTABLE wrapper with its dictionary named can be
    # indexed (the trigram index on names).
    op.execute("""
        CREATE FUNCTION public.atlas_unaccent(text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
        AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$
    """)
    # French stemming after unaccenting: "epicerie" and "Épicerie" give one lexeme.
    op.execute("CREATE TEXT SEARCH CONFIGURATION public.atlas_fr (COPY = pg_catalog.french)")
    op.execute("ALTER TEXT SEARCH CONFIGURATION public.atlas_fr "
               "ALTER MAPPING FOR hword, hword_part, word WITH public.unaccent, french_stem")

    op.create_geospatial_table('entries',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('slug', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('geom', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('street', sa.String(length=200), nullable=True),
    sa.Column('postcode', sa.String(length=20), nullable=True),
    sa.Column('city', sa.String(length=120), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('website', sa.String(length=500), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('opening_hours', sa.String(length=500), nullable=True),
    sa.Column('licence', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='active', nullable=False),
    sa.Column('founded', sa.SmallInteger(), nullable=True),
    sa.Column('moderation', sa.String(length=20), server_default='published', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('search_vector', postgresql.TSVECTOR(), sa.Computed("setweight(to_tsvector('public.atlas_fr'::regconfig, coalesce(name, '')), 'A') || setweight(to_tsvector('public.atlas_fr'::regconfig, coalesce(summary, '')), 'B') || setweight(to_tsvector('public.atlas_fr'::regconfig, coalesce(city, '')), 'C') || setweight(to_tsvector('public.atlas_fr'::regconfig, coalesce(description, '')), 'D')", persisted=True), nullable=False),
    sa.CheckConstraint("kind IN ('commons', 'third_place', 'initiative')", name=op.f('ck_entries_kind')),
    sa.CheckConstraint("moderation IN ('published', 'pending', 'rejected')", name=op.f('ck_entries_moderation')),
    sa.CheckConstraint("slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name=op.f('ck_entries_slug_format')),
    sa.CheckConstraint("status IN ('active', 'planned', 'closed')", name=op.f('ck_entries_status')),
    sa.CheckConstraint('founded IS NULL OR founded BETWEEN 1000 AND 2100', name=op.f('ck_entries_founded')),
    sa.CheckConstraint('geom IS NULL OR (ST_X(geom) BETWEEN -180 AND 180 AND ST_Y(geom) BETWEEN -90 AND 90)', name=op.f('ck_entries_lonlat_range')),
    sa.CheckConstraint('length(btrim(name)) > 0', name=op.f('ck_entries_name_not_blank')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_entries_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entries')),
    sa.UniqueConstraint('slug', name=op.f('uq_entries_slug'))
    )
    op.create_geospatial_index('ix_entries_geom', 'entries', ['geom'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index('ix_entries_kind', 'entries', ['kind'], unique=False)
    op.create_index('ix_entries_search_vector', 'entries', ['search_vector'], unique=False, postgresql_using='gin')
    op.create_index('ix_entries_updated_at', 'entries', ['updated_at'], unique=False)
    op.create_table('evaluation_keys',
    sa.Column('slug', sa.String(length=40), nullable=False),
    sa.Column('position', sa.SmallInteger(), nullable=False),
    sa.Column('label_fr', sa.String(length=80), nullable=False),
    sa.Column('label_en', sa.String(length=80), nullable=False),
    sa.Column('question_fr', sa.Text(), nullable=False),
    sa.Column('question_en', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('slug', name=op.f('pk_evaluation_keys'))
    )
    op.create_table('tags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('label_fr', sa.String(length=120), nullable=False),
    sa.Column('label_en', sa.String(length=120), nullable=False),
    sa.Column('group', sa.String(length=40), server_default='activity', nullable=False),
    sa.CheckConstraint("slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name=op.f('ck_tags_slug_format')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tags')),
    sa.UniqueConstraint('slug', name=op.f('uq_tags_slug'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('role', sa.String(length=20), server_default='contributor', nullable=False),
    sa.Column('active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("position('@' in email) > 1", name=op.f('ck_users_email_format')),
    sa.CheckConstraint("role IN ('admin', 'editor', 'contributor')", name=op.f('ck_users_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users'))
    )
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    op.create_index(op.f('ix_api_tokens_user_id'), 'api_tokens', ['user_id'], unique=False)
    op.create_table('entry_tags',
    sa.Column('entry_id', sa.UUID(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entries.id'], name=op.f('fk_entry_tags_entry_id_entries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_entry_tags_tag_id_tags'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_id', 'tag_id', name=op.f('pk_entry_tags'))
    )
    op.create_index(op.f('ix_entry_tags_tag_id'), 'entry_tags', ['tag_id'], unique=False)
    op.create_table('evaluations',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('entry_id', sa.UUID(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('authors', sa.String(length=500), nullable=True),
    sa.Column('state', sa.String(length=20), server_default='draft', nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('draft', 'published')", name=op.f('ck_evaluations_state')),
    sa.CheckConstraint('length(btrim(title)) > 0', name=op.f('ck_evaluations_title_not_blank')),
    sa.ForeignKeyConstraint(['entry_id'], ['entries.id'], name=op.f('fk_evaluations_entry_id_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluations'))
    )
    op.create_index(op.f('ix_evaluations_entry_id'), 'evaluations', ['entry_id'], unique=False)
    op.create_table('import_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('origin', sa.String(length=80), nullable=False),
    sa.Column('location', sa.String(length=1000), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('dry_run', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='running', nullable=False),
    sa.Column('created', sa.Integer(), server_default='0', nullable=False),
    sa.Column('updated', sa.Integer(), server_default='0', nullable=False),
    sa.Column('unchanged', sa.Integer(), server_default='0', nullable=False),
    sa.Column('duplicates', sa.Integer(), server_default='0', nullable=False),
    sa.Column('conflicts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('rejected', sa.Integer(), server_default='0', nullable=False),
    sa.Column('report', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_import_runs_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_runs'))
    )
    op.create_table('relations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.UUID(), nullable=False),
    sa.Column('target_id', sa.UUID(), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("type IN ('hosted_by', 'part_of', 'uses', 'partner_of', 'inspired_by')", name=op.f('ck_relations_type')),
    sa.CheckConstraint('source_id <> target_id', name=op.f('ck_relations_not_self')),
    sa.ForeignKeyConstraint(['source_id'], ['entries.id'], name=op.f('fk_relations_source_id_entries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_id'], ['entries.id'], name=op.f('fk_relations_target_id_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_relations')),
    sa.UniqueConstraint('source_id', 'target_id', 'type', name='uq_relations_link')
    )
    op.create_index(op.f('ix_relations_target_id'), 'relations', ['target_id'], unique=False)
    op.create_table('revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity_type', sa.String(length=20), nullable=False),
    sa.Column('entity_id', sa.UUID(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('author_label', sa.String(length=120), nullable=True),
    sa.Column('comment', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('snapshot', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.CheckConstraint("action IN ('create', 'update', 'delete', 'restore', 'revert')", name=op.f('ck_revisions_action')),
    sa.CheckConstraint("entity_type IN ('entry', 'evaluation')", name=op.f('ck_revisions_entity_type')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_revisions_author_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_revisions'))
    )
    op.create_index('uq_revisions_entity_version', 'revisions', ['entity_type', 'entity_id', 'version'], unique=True)
    op.create_table('sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.UUID(), nullable=False),
    sa.Column('origin', sa.String(length=80), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('licence', sa.String(length=200), nullable=True),
    sa.Column('attributes', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['entries.id'], name=op.f('fk_sources_entry_id_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sources')),
    sa.UniqueConstraint('origin', 'external_id', name='uq_sources_origin_external_id')
    )
    op.create_index(op.f('ix_sources_entry_id'), 'sources', ['entry_id'], unique=False)
    op.create_table('answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('evaluation_id', sa.UUID(), nullable=False),
    sa.Column('key_slug', sa.String(length=40), nullable=False),
    sa.Column('position', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('level', sa.SmallInteger(), nullable=True),
    sa.Column('strengths', sa.Text(), nullable=True),
    sa.Column('limits', sa.Text(), nullable=True),
    sa.Column('stakes', sa.Text(), nullable=True),
    sa.CheckConstraint('level IS NULL OR level BETWEEN 0 AND 4', name=op.f('ck_answers_level')),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluations.id'], name=op.f('fk_answers_evaluation_id_evaluations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['key_slug'], ['evaluation_keys.slug'], name=op.f('fk_answers_key_slug_evaluation_keys'), onupdate='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_answers')),
    sa.UniqueConstraint('evaluation_id', 'key_slug', name='uq_answers_evaluation_key')
    )
    op.execute("CREATE INDEX ix_entries_geog ON entries USING gist ((geom::geography))")
    op.execute("CREATE INDEX ix_entries_name_trgm ON entries "
               "USING gin (public.atlas_unaccent(lower(name)) gin_trgm_ops)")
    op.execute("CREATE UNIQUE INDEX uq_users_email_lower ON users (lower(email))")

    keys = sa.table("evaluation_keys", sa.column("slug"), sa.column("position"),
                    sa.column("label_fr"), sa.column("label_en"),
                    sa.column("question_fr"), sa.column("question_en"))
    op.bulk_insert(keys, [
        dict(zip(("slug", "position", "label_fr", "label_en", "question_fr", "question_en"),
                 row, strict=True))
        for row in EVALUATION_KEYS
    ])


def downgrade() -> None:
    # The extensions stay: other schemas of the database may use them.
    op.drop_table('answers')
    op.drop_index(op.f('ix_sources_entry_id'), table_name='sources')
    op.drop_table('sources')
    op.drop_index('uq_revisions_entity_version', table_name='revisions')
    op.drop_table('revisions')
    op.drop_index(op.f('ix_relations_target_id'), table_name='relations')
    op.drop_table('relations')
    op.drop_table('import_runs')
    op.drop_index(op.f('ix_evaluations_entry_id'), table_name='evaluations')
    op.drop_table('evaluations')
    op.drop_index(op.f('ix_entry_tags_tag_id'), table_name='entry_tags')
    op.drop_table('entry_tags')
    op.drop_index(op.f('ix_api_tokens_user_id'), table_name='api_tokens')
    op.drop_table('api_tokens')
    op.drop_table('users')
    op.drop_table('tags')
    op.drop_table('evaluation_keys')
    op.drop_index('ix_entries_updated_at', table_name='entries')
    op.drop_index('ix_entries_search_vector', table_name='entries', postgresql_using='gin')
    op.drop_index('ix_entries_kind', table_name='entries')
    op.drop_geospatial_index('ix_entries_geom', table_name='entries', postgresql_using='gist', column_name='geom')
    op.drop_geospatial_table('entries')
    op.execute("DROP TEXT SEARCH CONFIGURATION public.atlas_fr")
    op.execute("DROP FUNCTION public.atlas_unaccent(text)")
