"""The map's count pyramid: public entries counted per cell of the tile grids, zoom 0 to 12;
and the tag facets of what the public sees.

A tile of the map in cells mode (app/web/map_cells.py) grouped every matching entry
of the tile: 11.7 s for the densest zoom-6 tile at 1,000,000 entries. Unfiltered (or
filtered by kind only) it now reads its 16 cells from `map_cells`: per zoom z ≤ 12,
cell (gx, gy) of the world grid of 4 × 2^z cells a side, and kind, the number of
public entries (published, not deleted), the sums of their positions in 1e-7 degrees
(integers, so adding and taking away is exact) for the cluster's mean. Public entries
without a position count in cell (-1, -1) of every zoom: the map's totals and the
kind facets come from zoom 0.

Kept up to date by statement triggers on `entries` (transition tables): each writing
statement appends its net change per zoom-12 cell and kind to `map_cell_changes`, in
its own transaction, so a late commit shows its counts when it shows its entries and a
rollback takes them back. `atlas_map_cells_compact()` folds the changes its snapshot
sees into every zoom of `map_cells` (a reader calls it when the changes pile up); a
read adds the changes not folded yet, in the same statement (one snapshot). Never
read by a public output other than through the entries, whose changes move the data
state already: no `data_changes` trigger here.

The tag facets of what the public sees (how many public entries carry each tag, per
kind and with a place or not: 3 s over 1,000,000 entries with 1.9 million tags) are
kept the same way in `tag_facets` and `tag_facet_changes`. They count a join (an
entry's visibility, its tags) that two transactions can change at once: the triggers
on `entry_tags` first lock the entries they touch FOR SHARE, so a tag written while
another transaction changes its entry waits for it and then counts the entry as it
committed; an entry's update, which waits for such a lock, counts the tags committed
by then. (Sound under READ COMMITTED, which every writer uses.)

Revision ID: 0023
Revises: 0022
"""

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

BASE_ZOOM = 12  # app/web/map_pyramid.py BASE_ZOOM
GRID = 4  # app/web/map_cells.py GRID

FUNCTIONS = f"""
-- The column of a longitude in a world grid of `side` cells (Web Mercator, as XYZ tiles).
CREATE FUNCTION public.atlas_cell_x(lon double precision, side integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT least(side - 1, floor((lon + 180) / 360 * side)::integer)
$$;

-- The row of a latitude (0 at the north); the poles are clamped.
CREATE FUNCTION public.atlas_cell_y(lat double precision, side integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT greatest(0, least(side - 1, floor(
        (3.141592653589793 - ln(tan(0.7853981633974483
                                    + radians(greatest(-89.999999, least(89.999999, lat))) / 2)))
        / 6.283185307179586 * side)::integer))
$$;

-- A position in 1e-7 degrees, for sums that add and take away exactly.
CREATE FUNCTION public.atlas_cell_q(degrees double precision) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT round(degrees * 10000000)::bigint
$$;

-- The mean of `n` positions from their sum in 1e-7 degrees, to the metre (1e-5°).
CREATE FUNCTION public.atlas_cell_mean(total numeric, n bigint) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT round(total / n / 10000000, 5)::double precision
$$;

-- Fold the oldest `most` changes (all when NULL) into every zoom; how many were folded.
CREATE FUNCTION public.atlas_map_cells_compact(most bigint DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    -- One compaction at a time; the others read the changes meanwhile.
    IF NOT pg_try_advisory_xact_lock(hashtext('atlas_map_cells_compact')) THEN
        RETURN 0;
    END IF;
    WITH gone AS (
        DELETE FROM map_cell_changes WHERE id IN (
            SELECT id FROM map_cell_changes ORDER BY id LIMIT most)
        RETURNING gx, gy, kind, n, sx, sy
    ), counted AS (
        INSERT INTO map_cells AS m (z, gx, gy, kind, n, sx, sy)
        SELECT z, gx >> ({BASE_ZOOM} - z), gy >> ({BASE_ZOOM} - z), kind,
               sum(n), sum(sx), sum(sy)
        FROM gone, generate_series(0, {BASE_ZOOM}) AS z
        GROUP BY 1, 2, 3, 4
        HAVING sum(n) <> 0 OR sum(sx) <> 0 OR sum(sy) <> 0
        ON CONFLICT (z, gx, gy, kind) DO UPDATE
            SET n = m.n + excluded.n, sx = m.sx + excluded.sx, sy = m.sy + excluded.sy
        RETURNING 1
    )
    SELECT count(*) INTO folded FROM gone;
    DELETE FROM map_cells WHERE n = 0;
    RETURN folded;
END
$$;
"""  # noqa: S608 (our constants)

TAG_FACETS = """
CREATE FUNCTION public.atlas_tag_facets_compact(most bigint DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    folded bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('atlas_tag_facets_compact')) THEN
        RETURN 0;
    END IF;
    WITH gone AS (
        DELETE FROM tag_facet_changes WHERE id IN (
            SELECT id FROM tag_facet_changes ORDER BY id LIMIT most)
        RETURNING tag_id, kind, located, n
    ), counted AS (
        INSERT INTO tag_facets AS f (tag_id, kind, located, n)
        SELECT tag_id, kind, located, sum(n) FROM gone
        GROUP BY 1, 2, 3 HAVING sum(n) <> 0
        ON CONFLICT (tag_id, kind, located) DO UPDATE SET n = f.n + excluded.n
        RETURNING 1
    )
    SELECT count(*) INTO folded FROM gone;
    DELETE FROM tag_facets WHERE n = 0;
    RETURN folded;
END
$$;

-- An entry whose visibility, kind or place (or not) changes moves its tags' counts.
CREATE FUNCTION public.atlas_tag_facets_of_entries() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH moved AS (  -- only these: most updates change none of it
        SELECT o.id, o.kind AS old_kind, w.kind AS new_kind,
               o.moderation = 'published' AND o.deleted_at IS NULL AS was_public,
               w.moderation = 'published' AND w.deleted_at IS NULL AS is_public,
               o.geom IS NOT NULL AS was_located, w.geom IS NOT NULL AS is_located
        FROM old_rows o JOIN new_rows w ON w.id = o.id
        WHERE (o.moderation = 'published' AND o.deleted_at IS NULL, o.kind, o.geom IS NULL)
              IS DISTINCT FROM
              (w.moderation = 'published' AND w.deleted_at IS NULL, w.kind, w.geom IS NULL)
    )
    INSERT INTO tag_facet_changes (tag_id, kind, located, n)
    SELECT t.tag_id, d.kind, d.located, sum(d.n)
    FROM (
        SELECT id, old_kind AS kind, was_located AS located, -1 AS n FROM moved
        WHERE was_public
        UNION ALL
        SELECT id, new_kind, is_located, 1 FROM moved WHERE is_public
    ) AS d JOIN entry_tags t ON t.entry_id = d.id
    GROUP BY t.tag_id, d.kind, d.located
    HAVING sum(d.n) <> 0;
    RETURN NULL;
END
$$;

-- An entry removed for good takes its tags' counts with it (before the cascade).
CREATE FUNCTION public.atlas_tag_facets_of_entry_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.moderation = 'published' AND OLD.deleted_at IS NULL THEN
        INSERT INTO tag_facet_changes (tag_id, kind, located, n)
        SELECT tag_id, OLD.kind, OLD.geom IS NOT NULL, -1
        FROM entry_tags WHERE entry_id = OLD.id;
    END IF;
    RETURN OLD;
END
$$;

-- A tag given or taken: counted for the entry as committed, once its writers are done.
CREATE FUNCTION public.atlas_tag_facets_of_entry_tags() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM 1 FROM entries WHERE id IN (SELECT entry_id FROM old_rows)
        ORDER BY id FOR SHARE;
        INSERT INTO tag_facet_changes (tag_id, kind, located, n)
        SELECT c.tag_id, e.kind, e.geom IS NOT NULL, -count(*)
        FROM old_rows c JOIN entries e ON e.id = c.entry_id
        WHERE e.moderation = 'published' AND e.deleted_at IS NULL
        GROUP BY 1, 2, 3;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM 1 FROM entries WHERE id IN (SELECT entry_id FROM new_rows)
        ORDER BY id FOR SHARE;
        INSERT INTO tag_facet_changes (tag_id, kind, located, n)
        SELECT c.tag_id, e.kind, e.geom IS NOT NULL, count(*)
        FROM new_rows c JOIN entries e ON e.id = c.entry_id
        WHERE e.moderation = 'published' AND e.deleted_at IS NULL
        GROUP BY 1, 2, 3;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION public.atlas_tag_facets_of_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tag_facet_changes;
    DELETE FROM tag_facets;
    RETURN NULL;
END
$$;
"""
TAG_TRIGGERS = (
    "CREATE TRIGGER entries_tag_facets_update AFTER UPDATE ON entries REFERENCING OLD TABLE"
    " AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT"
    " EXECUTE FUNCTION public.atlas_tag_facets_of_entries()",
    "CREATE TRIGGER entries_tag_facets_delete BEFORE DELETE ON entries FOR EACH ROW"
    " EXECUTE FUNCTION public.atlas_tag_facets_of_entry_delete()",
    "CREATE TRIGGER entry_tags_tag_facets_insert AFTER INSERT ON entry_tags REFERENCING NEW"
    " TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.atlas_tag_facets_of_entry_tags()",
    "CREATE TRIGGER entry_tags_tag_facets_update AFTER UPDATE ON entry_tags REFERENCING OLD"
    " TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT"
    " EXECUTE FUNCTION public.atlas_tag_facets_of_entry_tags()",
    "CREATE TRIGGER entry_tags_tag_facets_delete AFTER DELETE ON entry_tags REFERENCING OLD"
    " TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.atlas_tag_facets_of_entry_tags()",
    "CREATE TRIGGER entry_tags_tag_facets_truncate AFTER TRUNCATE ON entry_tags"
    " FOR EACH STATEMENT EXECUTE FUNCTION public.atlas_tag_facets_of_truncate()",
)

# The contribution of a set of entry rows (a transition table), signed, per base cell.
CONTRIBUTION = f"""
    SELECT CASE WHEN r.geom IS NULL THEN -1
                ELSE public.atlas_cell_x(ST_X(r.geom), {GRID << BASE_ZOOM}) END AS gx,
           CASE WHEN r.geom IS NULL THEN -1
                ELSE public.atlas_cell_y(ST_Y(r.geom), {GRID << BASE_ZOOM}) END AS gy,
           r.kind,
           {{sign}} AS n,
           {{sign}} * coalesce(public.atlas_cell_q(ST_X(r.geom)), 0) AS sx,
           {{sign}} * coalesce(public.atlas_cell_q(ST_Y(r.geom)), 0) AS sy
    FROM {{table}} AS r
    WHERE r.moderation = 'published' AND r.deleted_at IS NULL"""  # noqa: S608

TRIGGER_FUNCTION = """
CREATE FUNCTION public.{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO map_cell_changes (gx, gy, kind, n, sx, sy)
    SELECT gx, gy, kind, sum(n), sum(sx), sum(sy)
    FROM ({rows}) AS d
    GROUP BY gx, gy, kind
    HAVING sum(n) <> 0 OR sum(sx) <> 0 OR sum(sy) <> 0;
    RETURN NULL;
END
$$"""

ADDED = CONTRIBUTION.format(sign=1, table="new_rows")
REMOVED = CONTRIBUTION.format(sign=-1, table="old_rows")
# (trigger, event, transition tables, function, rows)
TRIGGERS = (
    ("entries_map_cells_insert", "INSERT", "NEW TABLE AS new_rows",
     "atlas_map_cells_of_insert", ADDED),
    ("entries_map_cells_update", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows",
     "atlas_map_cells_of_update", f"{ADDED} UNION ALL {REMOVED}"),
    ("entries_map_cells_delete", "DELETE", "OLD TABLE AS old_rows",
     "atlas_map_cells_of_delete", REMOVED),
)
TRUNCATE = """
CREATE FUNCTION public.atlas_map_cells_of_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM map_cell_changes;
    DELETE FROM map_cells;
    RETURN NULL;
END
$$"""


def upgrade() -> None:
    op.execute("""
        CREATE TABLE map_cells (
            z smallint NOT NULL,
            gx integer NOT NULL,
            gy integer NOT NULL,
            kind text NOT NULL,
            n integer NOT NULL,
            sx bigint NOT NULL,
            sy bigint NOT NULL,
            CONSTRAINT pk_map_cells PRIMARY KEY (z, gx, gy, kind)
        )""")
    op.execute("""
        CREATE TABLE map_cell_changes (
            id bigint GENERATED ALWAYS AS IDENTITY,
            gx integer NOT NULL,
            gy integer NOT NULL,
            kind text NOT NULL,
            n integer NOT NULL,
            sx bigint NOT NULL,
            sy bigint NOT NULL,
            CONSTRAINT pk_map_cell_changes PRIMARY KEY (id)
        )""")
    op.execute("CREATE INDEX ix_map_cell_changes_cell ON map_cell_changes (gx, gy)")
    op.execute("CREATE INDEX ix_map_cells_empty ON map_cells (z) WHERE n = 0")
    op.execute(FUNCTIONS)
    for _trigger, _event, _tables, function, rows in TRIGGERS:
        op.execute(TRIGGER_FUNCTION.format(name=function, rows=rows))
    op.execute(TRUNCATE)
    for trigger, event, tables, function, _rows in TRIGGERS:
        op.execute(f"CREATE TRIGGER {trigger} AFTER {event} ON entries "
                   f"REFERENCING {tables} FOR EACH STATEMENT "
                   f"EXECUTE FUNCTION public.{function}()")
    op.execute("CREATE TRIGGER entries_map_cells_truncate AFTER TRUNCATE ON entries "
               "FOR EACH STATEMENT EXECUTE FUNCTION public.atlas_map_cells_of_truncate()")
    # The entries already there, then every zoom.
    op.execute(f"""
        INSERT INTO map_cell_changes (gx, gy, kind, n, sx, sy)
        SELECT gx, gy, kind, sum(n), sum(sx), sum(sy)
        FROM ({CONTRIBUTION.format(sign=1, table="entries")}) AS d
        GROUP BY gx, gy, kind""")  # noqa: S608
    op.execute("SELECT public.atlas_map_cells_compact()")
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
    op.execute(TAG_FACETS)
    for trigger in TAG_TRIGGERS:
        op.execute(trigger)
    op.execute("""
        INSERT INTO tag_facet_changes (tag_id, kind, located, n)
        SELECT t.tag_id, e.kind, e.geom IS NOT NULL, count(*)
        FROM entries e JOIN entry_tags t ON t.entry_id = e.id
        WHERE e.moderation = 'published' AND e.deleted_at IS NULL
        GROUP BY 1, 2, 3""")
    op.execute("SELECT public.atlas_tag_facets_compact()")


def downgrade() -> None:
    for trigger in TAG_TRIGGERS:
        name, table = trigger.split()[2], trigger.split(" ON ")[1].split()[0]
        op.execute(f"DROP TRIGGER {name} ON {table}")
    op.execute("DROP FUNCTION public.atlas_tag_facets_compact(bigint)")
    for function in ("atlas_tag_facets_of_entries",
                     "atlas_tag_facets_of_entry_delete", "atlas_tag_facets_of_entry_tags",
                     "atlas_tag_facets_of_truncate"):
        op.execute(f"DROP FUNCTION public.{function}()")
    op.execute("DROP TABLE tag_facet_changes")
    op.execute("DROP TABLE tag_facets")
    for trigger, *_ in TRIGGERS:
        op.execute(f"DROP TRIGGER {trigger} ON entries")
    op.execute("DROP TRIGGER entries_map_cells_truncate ON entries")
    for *_, function, _rows in TRIGGERS:
        op.execute(f"DROP FUNCTION public.{function}()")
    op.execute("DROP FUNCTION public.atlas_map_cells_of_truncate()")
    op.execute("DROP FUNCTION public.atlas_map_cells_compact(bigint)")
    for signature in ("atlas_cell_x(double precision, integer)",
                      "atlas_cell_y(double precision, integer)",
                      "atlas_cell_q(double precision)", "atlas_cell_mean(numeric, bigint)"):
        op.execute(f"DROP FUNCTION public.{signature}")
    op.execute("DROP TABLE map_cell_changes")
    op.execute("DROP TABLE map_cells")
