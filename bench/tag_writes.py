"""What the map's tag counts cost writers (issue 17, migration 0029): run on demand.

    .venv/bin/python bench/tag_writes.py [--root OTHER_CHECKOUT] [--runs 3]

A throwaway database on the project's PostgreSQL, migrated by the code of `--root` (this
checkout by default: give another checkout, e.g. main's, to compare), with a base of
50,000 entries, a third of them tagged. Then, each run: 5,000 new entries and 15,000
tags (three each) in one transaction, plain SQL, timed per statement; the fold of the
map's and the tags' changes that followed; last, the 5,000 of the first run moved, then
renamed (a move changes their tags' cells, a rename nothing counted).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent

BASE = """
INSERT INTO tags (slug, label_fr, label_en)
SELECT 'w-' || i, 'T' || i, 'T' || i FROM generate_series(1, 20) AS i;
SELECT setseed(0.5);
INSERT INTO entries (slug, kind, name, geom, moderation)
SELECT 'base-' || i, (ARRAY['third_place', 'initiative', 'commons'])[1 + i % 3], 'Base ' || i,
       ST_SetSRID(ST_MakePoint(-4.5 + random() * 12, 43 + random() * 7.9), 4326), 'published'
FROM generate_series(1, 50000) AS i;
INSERT INTO entry_tags SELECT e.id, t.id FROM entries e, tags t
WHERE hashtext(e.slug) % 3 = 0 AND t.slug = 'w-' || (1 + abs(hashtext(e.slug)) % 20);
"""
ENTRIES = ("INSERT INTO entries (slug, kind, name, geom, moderation)"
           " SELECT 'run-' || %s || '-' || i,"
           " (ARRAY['third_place', 'initiative', 'commons'])[1 + i %% 3], 'Lieu ' || i,"
           " ST_SetSRID(ST_MakePoint(-4.5 + random() * 12, 43 + random() * 7.9), 4326),"
           " 'published' FROM generate_series(1, 5000) AS i")
# Three distinct tags an entry (offsets 0, 7 and 13 of 20).
TAGS = ("INSERT INTO entry_tags (entry_id, tag_id) SELECT e.id, t.id FROM entries e"
        " JOIN tags t ON t.slug IN ('w-' || (1 + abs(hashtext(e.slug)) %% 20),"
        " 'w-' || (1 + (abs(hashtext(e.slug)) + 7) %% 20),"
        " 'w-' || (1 + (abs(hashtext(e.slug)) + 13) %% 20))"
        " WHERE e.slug LIKE 'run-' || %s || '-%%'")


def timed(conn, statement: str | None, *params, commit: bool = False) -> float:
    """Seconds for `statement` (and the commit after it, if asked; None: the commit only)."""
    started = time.perf_counter()
    if statement is not None:
        with conn.cursor() as cur:
            cur.execute(statement, params or None)
    if commit:
        conn.commit()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(args.root.resolve()))
    from app.localdb import libpq_url, server_url
    from bench.harness import make_app, migrate

    name = "atlas_bench_tag_writes"
    admin = psycopg2.connect(libpq_url(server_url(), "postgres"))
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        url = libpq_url(server_url(), name)
        migrate(make_app(url))
        conn = psycopg2.connect(url)
        with conn.cursor() as cur:
            cur.execute(BASE)
            cur.execute("SELECT proname FROM pg_proc WHERE proname IN"
                        " ('atlas_tag_facets_compact', 'atlas_tag_cells_compact')")
            fold = cur.fetchone()[0]
            changes = {"atlas_tag_facets_compact": "tag_facet_changes",
                       "atlas_tag_cells_compact": "tag_cell_changes"}[fold]
            cur.execute(f"SELECT atlas_map_cells_compact(), {fold}()")
        conn.commit()
        conn.autocommit = True
        timed(conn, "VACUUM ANALYZE")
        conn.autocommit = False
        totals = []
        for run in range(args.runs):
            entered = timed(conn, ENTRIES, run)
            tagged = timed(conn, TAGS, run)
            committed = timed(conn, None, commit=True)
            totals.append(entered + tagged + committed)
            with conn.cursor() as cur:
                counts = ("SELECT (SELECT count(*) FROM map_cell_changes),"  # noqa: S608
                          f" (SELECT count(*) FROM {changes})")  # one of two names above
                cur.execute(counts)
                map_changes, tag_changes = cur.fetchone()
            conn.commit()
            map_fold = timed(conn, "SELECT atlas_map_cells_compact()", commit=True)
            tag_fold = timed(conn, f"SELECT {fold}()", commit=True)
            print(f"run {run + 1}: {totals[-1] * 1000:.0f} ms (entries {entered * 1000:.0f},"
                  f" tags {tagged * 1000:.0f}); map fold {map_fold * 1000:.0f} ms"
                  f" ({map_changes} changes), tag fold {tag_fold * 1000:.0f} ms"
                  f" ({tag_changes} changes)")
        print(f"median {statistics.median(totals) * 1000:.0f} ms")
        for what, statement in (
                ("moved", "UPDATE entries SET geom = ST_Translate(geom, 0.01, 0)"
                          " WHERE slug LIKE 'run-0-%'"),
                ("renamed", "UPDATE entries SET name = name || '!' WHERE slug LIKE 'run-0-%'")):
            spent = [timed(conn, statement, commit=True) for _ in range(args.runs)]
            print(f"5,000 tagged entries {what}: "
                  + " / ".join(f"{s * 1000:.0f}" for s in spent) + " ms")
        conn.close()
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    main()
