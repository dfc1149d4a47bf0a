"""Sheets in the change feed, sheet provenance, and one identity across instances.

- `evaluations.change_xid` (the writing transaction, as for entries: migration 0002)
  and `evaluations.ever_published`, both set by a trigger: the sheets' feed
  (/api/v1/evaluations) orders by (change_xid, id) and hands out a sheet that was
  deleted or unpublished as a tombstone, but never names one that was only a draft;
- `sheet_sources`: where a pulled sheet came from and the pull's three-way baseline;
- `sync_pushed_sheets` and `sync_states.sheet_cursor`: a push's and a pull's progress
  through the sheets' feed;
- `identity_links`: another id for a local entry or sheet (an alias). Demo entries
  now get stable ids (uuid5 of their slug, app/demo.py); an instance that loaded the
  demo before keeps its own ids — they are public, other instances may have mirrored
  them — and records the stable ones here as aliases, so that both ids name the same
  entry everywhere.

Revision ID: 0017
Revises: 0016
"""

import uuid

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.models.entry import XID8

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# app/demo.py's DEMO_NAMESPACE, written out: a migration must not move with the code.
DEMO_NAMESPACE = uuid.UUID("9c0dae42-a3f3-5770-8869-4135e2ecb7fb")


def upgrade() -> None:
    op.add_column("evaluations", sa.Column("change_xid", XID8(), nullable=True))
    op.add_column("evaluations", sa.Column("ever_published", sa.Boolean(),
                                           server_default=sa.text("false"), nullable=False))
    op.execute("""
        UPDATE evaluations e SET change_xid = pg_current_xact_id(),
            ever_published = e.state = 'published' OR EXISTS (
                SELECT 1 FROM revisions r WHERE r.entity_type = 'evaluation'
                   AND r.entity_id = e.id AND r.snapshot->>'state' = 'published')""")
    op.alter_column("evaluations", "change_xid", nullable=False)
    op.execute("""
        CREATE FUNCTION public.atlas_set_sheet_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            NEW.change_xid := pg_current_xact_id();
            IF TG_OP = 'INSERT' THEN
                NEW.ever_published := NEW.state = 'published';
            ELSE
                NEW.ever_published := OLD.ever_published OR NEW.state = 'published';
            END IF;
            RETURN NEW;
        END
        $$""")
    op.execute("""
        CREATE TRIGGER evaluations_change_xid BEFORE INSERT OR UPDATE ON evaluations
        FOR EACH ROW EXECUTE FUNCTION public.atlas_set_sheet_change()""")
    op.create_index("ix_evaluations_change", "evaluations", ["change_xid", "id"])

    op.add_column("sync_states", sa.Column("sheet_cursor", sa.Text(), nullable=True))
    op.create_table(
        "sync_pushed_sheets",
        sa.Column("state_id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.UUID(), nullable=False),
        sa.Column("remote_version", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.CheckConstraint("state IN ('sent', 'deleted', 'refused')",
                           name="ck_sync_pushed_sheets_state"),
        sa.ForeignKeyConstraint(["state_id"], ["sync_states.id"], ondelete="CASCADE",
                                name="fk_sync_pushed_sheets_state_id_sync_states"),
        sa.PrimaryKeyConstraint("state_id", "evaluation_id", name="pk_sync_pushed_sheets"),
    )
    op.create_table(
        "sheet_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.UUID(), nullable=False),
        sa.Column("origin", sa.String(length=80), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()),
                  server_default="{}", nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True),
                  server_default=sa.text("now()"), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True),
                  server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["evaluation_id"], ["evaluations.id"], ondelete="CASCADE",
                                name="fk_sheet_sources_evaluation_id_evaluations"),
        sa.PrimaryKeyConstraint("id", name="pk_sheet_sources"),
        sa.UniqueConstraint("origin", "external_id",
                            name="uq_sheet_sources_origin_external_id"),
    )
    op.create_index("ix_sheet_sources_evaluation_id", "sheet_sources", ["evaluation_id"])
    op.create_table(
        "identity_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("alias_id", sa.UUID(), nullable=False),
        sa.Column("entity_id", sa.UUID(), nullable=False),
        sa.Column("origin", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.CheckConstraint("entity_type IN ('entry', 'evaluation')",
                           name="ck_identity_links_entity_type"),
        sa.PrimaryKeyConstraint("id", name="pk_identity_links"),
        sa.UniqueConstraint("entity_type", "alias_id", name="uq_identity_links_alias"),
    )
    op.create_index("ix_identity_links_entity", "identity_links",
                    ["entity_type", "entity_id"])
    # The feed publishes aliases: a new link moves the data state (migration 0010).
    op.execute("""
        CREATE TRIGGER identity_links_log_change
        AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON identity_links
        FOR EACH STATEMENT EXECUTE FUNCTION public.atlas_log_change()""")
    _alias_demo_rows()


def _alias_demo_rows() -> None:
    """The stable ids of demo entries (and their demo sheets) loaded before they existed,
    recorded as aliases; the rows keep their ids (app.demo.record_demo_aliases)."""
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT s.entry_id, s.external_id FROM sources s WHERE s.origin = 'demo'")).all()
    links = []
    for entry_id, slug in rows:
        stable = uuid.uuid5(DEMO_NAMESPACE, slug)
        if stable != entry_id:
            links.append({"t": "entry", "a": stable, "e": entry_id,
                          "r": "the demo entry's stable id"})
        sheets = conn.execute(sa.text(
            "SELECT e.id, e.title, e.held_on FROM evaluations e WHERE e.entry_id = :id "
            "AND EXISTS (SELECT 1 FROM revisions r WHERE r.entity_type = 'evaluation' "
            "AND r.entity_id = e.id AND r.version = 1 AND r.author_label = 'demo')"),
            {"id": entry_id}).all()
        for sheet_id, title, held_on in sheets:
            stable_sheet = uuid.uuid5(DEMO_NAMESPACE,
                                      f"evaluation/{slug}/{held_on.isoformat()}/{title}")
            if stable_sheet != sheet_id:
                links.append({"t": "evaluation", "a": stable_sheet, "e": sheet_id,
                              "r": "the demo sheet's stable id"})
    for link in links:
        conn.execute(sa.text(
            "INSERT INTO identity_links (entity_type, alias_id, entity_id, origin, reason) "
            "SELECT :t, :a, :e, 'demo', :r WHERE NOT EXISTS ("
            "  SELECT 1 FROM entries WHERE id = :a UNION ALL "
            "  SELECT 1 FROM evaluations WHERE id = :a) "
            "ON CONFLICT DO NOTHING"), link)


def downgrade() -> None:
    op.execute("DROP TRIGGER identity_links_log_change ON identity_links")
    op.drop_index("ix_identity_links_entity", table_name="identity_links")
    op.drop_table("identity_links")
    op.drop_index("ix_sheet_sources_evaluation_id", table_name="sheet_sources")
    op.drop_table("sheet_sources")
    op.drop_table("sync_pushed_sheets")
    op.drop_column("sync_states", "sheet_cursor")
    op.drop_index("ix_evaluations_change", table_name="evaluations")
    op.execute("DROP TRIGGER evaluations_change_xid ON evaluations")
    op.execute("DROP FUNCTION public.atlas_set_sheet_change()")
    op.drop_column("evaluations", "ever_published")
    op.drop_column("evaluations", "change_xid")
