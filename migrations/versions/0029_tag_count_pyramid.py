"""The tag pyramid: public entries counted per tag and map cell (the map's count pyramid
of 0023, per tag), replacing the tag facets of 0023.

A map filtered by one tag (the map's most used filter) was counted by a pass (0025) on
the first request after any write: 1.2-1.5 s at 1,000,000 entries for a tag on one in
ten. `tag_cells` now holds, per tag, stored zoom, cell and kind, the public entries
carrying the tag (n) and the sums of their positions in 1e-7 degrees, as `map_cells`
does without the tag; `tag_cell_changes` the zoom-12 changes the triggers write, folded
in by `atlas_tag_cells_compact()`. The tag facets are its zoom 0 (a place: gx >= 0;
none: cell (-1, -1)), so `tag_facets` and `tag_facet_changes` go, with their triggers:
one set of triggers does the join.

Stored zooms: 0, 2, 4 … 12 (TAG_ZOOMS), not all 13: a block of a zoom between reads the
zoom above it (four times the cells a side, at most a few thousand rows, shifted to its
own cells), while the table and each fold are about half those of 13 zooms (a sparse
tag has about as many cells at zoom 11 as at 12).

The triggers are the tag facets' (0023), with cells: an entry's update whose visibility,
kind or position changes (a move within the map too) moves its tags' cells; a tag given
or taken first locks its entries FOR SHARE, so that a tag and its entry's change at once
count as committed (read 0023); and the trigger on entry_tags plans through the primary
key of entries (0027). Read only through the entries and tags, whose writes move the
data state already: no `data_changes` trigger.

Revision ID: 0029
Revises: 0028
"""

import importlib.util
from pathlib import Path

from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

BASE_ZOOM = 12  # app/query/pyramid.py BASE_ZOOM
GRID = 4
SIDE = GRID << BASE_ZOOM
STEP = 2  # app/query/pyramid.py TAG_ZOOMS: 0, 2 … BASE_ZOOM

PUBLIC = "{r}.moderation = 'published' AND {r}.deleted_at IS NULL"


def cell(r: str, sign: str) -> str:
    """The columns gx, gy, n, sx, sy of the entry row `r`, `sign` times (cell (-1, -1)
    without a place)."""
    return (f"CASE WHEN {r}.geom IS NULL THEN -1"
            f" ELSE public.atlas_cell_x(ST_X({r}.geom), {SIDE}) END AS gx,"
            f" CASE WHEN {r}.geom IS NULL THEN -1"
            f" ELSE public.atlas_cell_y(ST_Y({r}.geom), {SIDE}) END AS gy,"
            f" {sign} AS n,"
            f" {sign} * coalesce(public.atlas_cell_q(ST_X({r}.geom)), 0) AS sx,"
            f" {sign} * coalesce(public.atlas_cell_q(ST_Y({r}.geom)), 0) AS sy")


# Rows (tag_id, gx, gy, kind, n, sx, sy) summed per cell into the changes.
LOGGED = """
    INSERT INTO tag_cell_changes (tag_id, gx, gy, kind, n, sx, sy)
    SELECT tag_id, gx, gy, kind, sum(n), sum(sx), sum(sy) FROM ({rows}) AS d
    GROUP BY tag_id, gx, gy, kind
    HAVING sum(n) <> 0 OR sum(sx) <> 0 OR sum(sy) <> 0"""

FUNCTIONS = f"""
-- Fold the oldest `most` changes (all when NULL) into every stored zoom; how many.
CREATE FUNCTION public.atlas_tag_cells_compact(most bigint DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('atlas_tag_cells_compact')) THEN
        RETURN 0;
    END IF;
    WITH gone AS (
        DELETE FROM tag_cell_changes WHERE id IN (
            SELECT id FROM tag_cell_changes ORDER BY id LIMIT most)
        RETURNING tag_id, gx, gy, kind, n, sx, sy
    ), counted AS (
        INSERT INTO tag_cells AS m (z, tag_id, gx, gy, kind, n, sx, sy)
        SELECT z, tag_id, gx >> ({BASE_ZOOM} - z), gy >> ({BASE_ZOOM} - z), kind,
               sum(n), sum(sx), sum(sy)
        FROM gone, generate_series(0, {BASE_ZOOM}, {STEP}) AS z
        GROUP BY 1, 2, 3, 4, 5
        HAVING sum(n) <> 0 OR sum(sx) <> 0 OR sum(sy) <> 0
        ON CONFLICT (z, tag_id, gx, gy, kind) DO UPDATE
            SET n = m.n + excluded.n, sx = m.sx + excluded.sx, sy = m.sy + excluded.sy
        RETURNING 1
    )
    SELECT count(*) INTO folded FROM gone;
    DELETE FROM tag_cells WHERE n = 0;
    RETURN folded;
END
$$;

-- An entry whose visibility, kind or position changes moves its tags' cells.
CREATE FUNCTION public.atlas_tag_cells_of_entries() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH moved AS (  -- only these: most updates change none of it
        SELECT o.id, o.kind AS old_kind, w.kind AS new_kind, o.geom AS old_geom,
               w.geom AS new_geom, {PUBLIC.format(r="o")} AS was_public,
               {PUBLIC.format(r="w")} AS is_public
        FROM old_rows o JOIN new_rows w ON w.id = o.id
        WHERE ({PUBLIC.format(r="o")}, o.kind, o.geom)
              IS DISTINCT FROM ({PUBLIC.format(r="w")}, w.kind, w.geom)
    ), d AS (
        SELECT m.id, m.old_kind AS kind, {cell("o", "-1")}
        FROM moved m, LATERAL (SELECT m.old_geom AS geom) AS o WHERE m.was_public
        UNION ALL
        SELECT m.id, m.new_kind, {cell("w", "1")}
        FROM moved m, LATERAL (SELECT m.new_geom AS geom) AS w WHERE m.is_public
    )
    {LOGGED.format(rows="SELECT t.tag_id, d.gx, d.gy, d.kind, d.n, d.sx, d.sy"
                        " FROM d JOIN entry_tags t ON t.entry_id = d.id")};
    RETURN NULL;
END
$$;

-- An entry removed for good takes its tags' counts with it (before the cascade).
CREATE FUNCTION public.atlas_tag_cells_of_entry_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF {PUBLIC.format(r="OLD")} THEN
        INSERT INTO tag_cell_changes (tag_id, gx, gy, kind, n, sx, sy)
        SELECT t.tag_id, c.gx, c.gy, OLD.kind, c.n, c.sx, c.sy
        FROM entry_tags t, (SELECT {cell("OLD", "-1")}) AS c
        WHERE t.entry_id = OLD.id;
    END IF;
    RETURN OLD;
END
$$;

-- A tag given or taken: counted for the entry as committed, once its writers are done.
CREATE FUNCTION public.atlas_tag_cells_of_entry_tags() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM 1 FROM entries WHERE id IN (SELECT entry_id FROM old_rows)
        ORDER BY id FOR SHARE;
        {LOGGED.format(rows="SELECT c.tag_id, e.kind, " + cell("e", "-1")
                       + " FROM old_rows c JOIN entries e ON e.id = c.entry_id"
                       " WHERE " + PUBLIC.format(r="e"))};
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM 1 FROM entries WHERE id IN (SELECT entry_id FROM new_rows)
        ORDER BY id FOR SHARE;
        {LOGGED.format(rows="SELECT c.tag_id, e.kind, " + cell("e", "1")
                       + " FROM new_rows c JOIN entries e ON e.id = c.entry_id"
                       " WHERE " + PUBLIC.format(r="e"))};
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.atlas_tag_cells_of_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tag_cell_changes;
    DELETE FROM tag_cells;
    RETURN NULL;
END
$$;

-- Plans only (0027): the tags' entries found through the primary key of entries.
ALTER FUNCTION public.atlas_tag_cells_of_entry_tags()
    SET enable_hashjoin = off SET enable_mergejoin = off;
"""  # noqa: S608 (our constants)

TRIGGERS = (
    "CREATE TRIGGER entries_tag_cells_update AFTER UPDATE ON entries REFERENCING OLD TABLE"
    " AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT"
    " EXECUTE FUNCTION public.atlas_tag_cells_of_entries()",
    "CREATE TRIGGER entries_tag_cells_delete BEFORE DELETE ON entries FOR EACH ROW"
    " EXECUTE FUNCTION public.atlas_tag_cells_of_entry_delete()",
    "CREATE TRIGGER entry_tags_tag_cells_insert AFTER INSERT ON entry_tags REFERENCING NEW"
    " TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.atlas_tag_cells_of_entry_tags()",
    "CREATE TRIGGER entry_tags_tag_cells_update AFTER UPDATE ON entry_tags REFERENCING OLD"
    " TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT"
    " EXECUTE FUNCTION public.atlas_tag_cells_of_entry_tags()",
    "CREATE TRIGGER entry_tags_tag_cells_delete AFTER DELETE ON entry_tags REFERENCING OLD"
    " TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.atlas_tag_cells_of_entry_tags()",
    "CREATE TRIGGER entry_tags_tag_cells_truncate AFTER TRUNCATE ON entry_tags"
    " FOR EACH STATEMENT EXECUTE FUNCTION public.atlas_tag_cells_of_truncate()",
)


def _drop_triggers(triggers) -> None:
    for trigger in triggers:
        name, table = trigger.split()[2], trigger.split(" ON ")[1].split()[0]
        op.execute(f"DROP TRIGGER {name} ON {table}")


def _tag_facets_0023():
    """Migration 0023's module: its tag facets, dropped here and made again on the way
    down."""
    spec = importlib.util.spec_from_file_location(
        "map_count_pyramid_0023", Path(__file__).with_name("0023_map_count_pyramid.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def upgrade() -> None:
    before = _tag_facets_0023()
    _drop_triggers(before.TAG_TRIGGERS)
    op.execute("DROP FUNCTION public.atlas_tag_facets_compact(bigint)")
    for function in ("atlas_tag_facets_of_entries", "atlas_tag_facets_of_entry_delete",
                     "atlas_tag_facets_of_entry_tags", "atlas_tag_facets_of_truncate"):
        op.execute(f"DROP FUNCTION public.{function}()")
    op.execute("DROP TABLE tag_facet_changes")
    op.execute("DROP TABLE tag_facets")
    # z first: the tag facets read zoom 0 of every tag, a block one tag's cells.
    op.execute("""
        CREATE TABLE tag_cells (
            z smallint NOT NULL,
            tag_id integer NOT NULL,
            gx integer NOT NULL,
            gy integer NOT NULL,
            kind text NOT NULL,
            n integer NOT NULL,
            sx bigint NOT NULL,
            sy bigint NOT NULL,
            CONSTRAINT pk_tag_cells PRIMARY KEY (z, tag_id, gx, gy, kind)
        )""")
    op.execute("CREATE INDEX ix_tag_cells_empty ON tag_cells (z) WHERE n = 0")
    op.execute("""
        CREATE TABLE tag_cell_changes (
            id bigint GENERATED ALWAYS AS IDENTITY,
            tag_id integer NOT NULL,
            gx integer NOT NULL,
            gy integer NOT NULL,
            kind text NOT NULL,
            n integer NOT NULL,
            sx bigint NOT NULL,
            sy bigint NOT NULL,
            CONSTRAINT pk_tag_cell_changes PRIMARY KEY (id)
        )""")
    op.execute("CREATE INDEX ix_tag_cell_changes_cell ON tag_cell_changes (tag_id, gx, gy)")
    op.execute(FUNCTIONS)
    for trigger in TRIGGERS:
        op.execute(trigger)
    # The tags already given, then every stored zoom.
    given = ("SELECT t.tag_id, e.kind, " + cell("e", "1")  # noqa: S608 (our constants)
             + " FROM entries e JOIN entry_tags t ON t.entry_id = e.id WHERE "
             + PUBLIC.format(r="e"))
    op.execute(LOGGED.format(rows=given))
    op.execute("SELECT public.atlas_tag_cells_compact()")


def downgrade() -> None:
    before = _tag_facets_0023()
    _drop_triggers(TRIGGERS)
    op.execute("DROP FUNCTION public.atlas_tag_cells_compact(bigint)")
    for function in ("atlas_tag_cells_of_entries", "atlas_tag_cells_of_entry_delete",
                     "atlas_tag_cells_of_entry_tags", "atlas_tag_cells_of_truncate"):
        op.execute(f"DROP FUNCTION public.{function}()")
    op.execute("DROP TABLE tag_cell_changes")
    op.execute("DROP TABLE tag_cells")
    op.execute("""
        CREATE TABLE tag_facets (
            tag_id integer NOT NULL,
            kind text NOT NULL,
            located boolean NOT NULL,
            n integer NOT NULL,
            CONSTRAINT pk_tag_facets PRIMARY KEY (tag_id, kind, located)
        )""")
    op.execute("""
        CREATE TABLE tag_facet_changes (
            id bigint GENERATED ALWAYS AS IDENTITY,
            tag_id integer NOT NULL,
            kind text NOT NULL,
            located boolean NOT NULL,
            n integer NOT NULL,
            CONSTRAINT pk_tag_facet_changes PRIMARY KEY (id)
        )""")
    op.execute(before.TAG_FACETS)
    for trigger in before.TAG_TRIGGERS:
        op.execute(trigger)
    op.execute("ALTER FUNCTION public.atlas_tag_facets_of_entry_tags() "
               "SET enable_hashjoin = off SET enable_mergejoin = off")  # 0027's
    op.execute("""
        INSERT INTO tag_facet_changes (tag_id, kind, located, n)
        SELECT t.tag_id, e.kind, e.geom IS NOT NULL, count(*)
        FROM entries e JOIN entry_tags t ON t.entry_id = e.id
        WHERE e.moderation = 'published' AND e.deleted_at IS NULL
        GROUP BY 1, 2, 3""")
    op.execute("SELECT public.atlas_tag_facets_compact()")
