"""The filtered map's counts: one pass per (filter, data state), kept for every block.

The count pyramid (0023) holds what the public sees, by kind; a filter it cannot hold
(a tag, the French search…) grouped the matching entries of each block requested: at
1,000,000 entries a search that keeps them all took 1.0-1.8 s for France's densest
block, and every pan or zoom paid again. Now the first request of a filtered view
counts its matching entries once per cell of zoom 12 (pyramid.BASE_ZOOM) and kind, rolls
them up to every other zoom and stores them here, in chunks of 16 × 16 cells (a block of
4 × 4 tiles), so each block of that view, at any zoom, reads one or a few rows.

`map_filter_passes`: one row per pass, keyed by a hash of the data state and the filter
(app/query/filter_pass.py); `state` is the data state it counted, for pruning;
`complement`: the chunks count the public entries the filter leaves out (a filter that
keeps most of them), which readers take away from the count pyramid's. `map_filter_tags`: the same entries per tag,
kind and place or not (the map page's tag facet, taken away from `tag_facets` for a
complement). The
chunks go with their pass. Derived data, remade from the entries whenever the data
state moves, never a source: UNLOGGED (no WAL, emptied by a crash, not on standbys,
where the readers fall back to grouping the entries). No public output reads them
other than through a data state that the entries move already: no `data_changes`
trigger.

Revision ID: 0025
Revises: 0024
"""

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE UNLOGGED TABLE map_filter_passes (
            id bigint GENERATED ALWAYS AS IDENTITY,
            key text NOT NULL,
            state text NOT NULL,
            complement boolean NOT NULL DEFAULT false,
            made_at timestamp with time zone NOT NULL DEFAULT now(),
            CONSTRAINT pk_map_filter_passes PRIMARY KEY (id),
            CONSTRAINT uq_map_filter_passes_key UNIQUE (key)
        )""")
    op.execute("""
        CREATE UNLOGGED TABLE map_filter_chunks (
            pass_id bigint NOT NULL,
            z smallint NOT NULL,
            cx integer NOT NULL,
            cy integer NOT NULL,
            gx integer[] NOT NULL,
            gy integer[] NOT NULL,
            kind text[] NOT NULL,
            n integer[] NOT NULL,
            sx bigint[] NOT NULL,
            sy bigint[] NOT NULL,
            CONSTRAINT pk_map_filter_chunks PRIMARY KEY (pass_id, z, cx, cy),
            CONSTRAINT fk_map_filter_chunks_pass_id_map_filter_passes FOREIGN KEY (pass_id)
                REFERENCES map_filter_passes (id) ON DELETE CASCADE
        )""")

    op.execute("""
        CREATE UNLOGGED TABLE map_filter_tags (
            pass_id bigint NOT NULL,
            tag_id integer NOT NULL,
            kind text NOT NULL,
            located boolean NOT NULL,
            n integer NOT NULL,
            CONSTRAINT pk_map_filter_tags PRIMARY KEY (pass_id, tag_id, kind, located),
            CONSTRAINT fk_map_filter_tags_pass_id_map_filter_passes FOREIGN KEY (pass_id)
                REFERENCES map_filter_passes (id) ON DELETE CASCADE
        )""")


def downgrade() -> None:
    op.execute("DROP TABLE map_filter_tags")
    op.execute("DROP TABLE map_filter_chunks")
    op.execute("DROP TABLE map_filter_passes")
