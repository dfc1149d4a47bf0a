"""Renaming a tag carried by every entry: the stored features refreshed in slices or at once.

    .venv/bin/python bench/feature_refresh.py [--entries 100000] [--slice 20000]

A throwaway database with the demo and N synthetic entries, all carrying one tag;
the tag is renamed twice in one statement each: with the slices of migration 0011
(`atlas.feature_batch`, 20,000 by default) and with one slice of every id (the
behaviour before it). Prints both times, rates and their ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import bench_app
from bench.open_data import SYNTHETIC_SQL, libpq


def rename(url: str, old: str, new: str, slice_size: int) -> tuple[float, int]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT set_config('atlas.feature_batch', %s, true)", (str(slice_size),))
        started = time.perf_counter()
        cur.execute("UPDATE tags SET slug = %s WHERE slug = %s", (new, old))
        elapsed = time.perf_counter() - started
        cur.execute("SELECT count(*) FROM entry_features WHERE feature LIKE %s",
                    (f'%"{new}"%',))
        carried = cur.fetchone()[0]
    conn.close()
    return elapsed, carried


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--slice", type=int, default=20_000)
    args = parser.parse_args()
    with bench_app("featurerefresh") as app:
        url = libpq(app.config["SQLALCHEMY_DATABASE_URI"])
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute(SYNTHETIC_SQL, {"n": args.entries})
            cur.execute("INSERT INTO entry_tags (entry_id, tag_id) SELECT e.id, t.id "
                        "FROM entries e, tags t WHERE t.slug = 'repair' "
                        "ON CONFLICT DO NOTHING")
            cur.execute("SELECT count(*) FROM entry_tags JOIN tags ON tags.id = tag_id "
                        "WHERE tags.slug = 'repair'")
            carriers = cur.fetchone()[0]
        conn.close()
        conn = psycopg2.connect(url)
        conn.autocommit = True
        conn.cursor().execute("VACUUM ANALYZE")
        conn.close()
        print(f"{carriers:,} entries carry the tag")
        sliced, got = rename(url, "repair", "reparation", args.slice)
        print(f"slices of {args.slice:,}: {sliced:.1f} s, {carriers / sliced:,.0f} features/s,"
              f" {got:,} stored with the new slug")
        whole, got = rename(url, "reparation", "repair", carriers + 1)
        print(f"one slice: {whole:.1f} s, {carriers / whole:,.0f} features/s,"
              f" {got:,} stored with the new slug")
        print(f"ratio one slice / slices: {whole / sliced:.2f}")


if __name__ == "__main__":
    main()
