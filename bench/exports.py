"""Benchmark of the exports (run on demand, not a test).

    make bench-exports      # or: .venv/bin/python bench/exports.py [--sizes 10000,100000]

Creates a throwaway database, migrates it, loads the demo data, then grows it to
each size in turn with synthetic entries inserted in SQL (a tenth of them with an
OpenStreetMap source holding a SIRET, a fifth with a link to another entry, one in
fifteen without a position, never a third place, which needs one). At
each size it runs `flask export FORMAT -o FILE` for every format, each in a fresh
process, and prints the wall time, the file size and the process's peak resident
memory (ru_maxrss from wait4). Streaming means that the peak stays flat as the
base grows: the last column is the ratio of the peak at the largest size to the
peak at the smallest.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.localdb import ThrowawayDatabases  # noqa: E402
from bench.open_data import TAGS_SQL  # noqa: E402

FORMATS = ("csv", "geojson", "jsonld", "datapackage", "mednum", "gogocarto")

ENTRIES_SQL = """
INSERT INTO entries (id, slug, kind, name, summary, description, geom, street, postcode,
                     city, country, website, phone, opening_hours, status, founded,
                     moderation, created_at, updated_at, version)
SELECT gen_random_uuid(), 'bench-' || i,
       (ARRAY['commons', 'third_place', 'initiative'])[1 + mod(i, 3)],
       'Lieu commun ' || i,
       'Résumé de l''entrée synthétique ' || i || ', pour mesurer.',
       repeat('Une description en Markdown, de quelques phrases. ', 6),
       CASE WHEN mod(i, 10) = 0 AND mod(i, 3) <> 1 THEN NULL ELSE ST_SetSRID(ST_MakePoint(
           round((2.85 + random() * 0.45)::numeric, 7)::float8,
           round((50.50 + random() * 0.30)::numeric, 7)::float8), 4326) END,
       i || ' rue des Communs', '59000',
       (ARRAY['Lille', 'Roubaix', 'Tourcoing', 'Villeneuve-d''Ascq'])[1 + mod(i, 4)],
       'FR', 'https://example.org/' || i, '03 20 00 00 ' || lpad(mod(i, 100)::text, 2, '0'),
       'Mo-Fr 09:00-12:00,14:00-18:00; Sa 10:00-12:00', 'active', 1990 + mod(i, 30),
       'published', now() - (i || ' minutes')::interval, now() - (i || ' seconds')::interval,
       1
FROM generate_series(%(first)s, %(last)s) AS i
"""
SOURCES_SQL = """
INSERT INTO sources (entry_id, origin, external_id, licence, attributes)
SELECT id, 'osm', 'node/' || substr(slug, 7), 'ODbL-1.0',
       jsonb_build_object('raw', jsonb_build_object(
           'ref:FR:SIRET', lpad(substr(slug, 7), 14, '1')))
FROM entries
WHERE slug LIKE 'bench-%%' AND mod(substr(slug, 7)::int, 10) = 1
  AND substr(slug, 7)::int BETWEEN %(first)s AND %(last)s
"""
RELATIONS_SQL = """
INSERT INTO relations (source_id, target_id, type)
SELECT e.id, t.id, 'uses' FROM entries e
JOIN entries t ON t.slug = 'bench-' || (substr(e.slug, 7)::int / 2 + 1)
WHERE e.slug LIKE 'bench-%%' AND mod(substr(e.slug, 7)::int, 5) = 0
  AND substr(e.slug, 7)::int BETWEEN %(first)s AND %(last)s AND t.id <> e.id
ON CONFLICT DO NOTHING
"""


def grow(url: str, first: int, last: int) -> float:
    started = time.perf_counter()
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        params = {"first": first, "last": last}
        cur.execute(ENTRIES_SQL, params)
        cur.execute(SOURCES_SQL, params)
        cur.execute(RELATIONS_SQL, params)
        for salt in ("a", "b"):
            cur.execute(TAGS_SQL, {"salt": salt})
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    conn.close()
    return time.perf_counter() - started


def public_count(url: str) -> int:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM entries WHERE deleted_at IS NULL "
                    "AND moderation = 'published'")
        return cur.fetchone()[0]


def run_export(url: str, name: str, out: Path, *extra: str) -> tuple[float, int]:
    """(seconds, peak RSS in KiB) of `flask export NAME -o OUT` in a process of its own."""
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "app"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "export", name, "-o", str(out),
         "--report", str(out) + ".report.csv", *extra],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    stderr = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"flask export {name} failed:\n{stderr}")
    return elapsed, usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000",
                        help="Synthetic entries at each step, increasing (default 10000,100000)")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))

    from flask_migrate import upgrade

    from app import create_app
    from app.config import to_sqlalchemy_url
    from app.demo import load_demo
    from app.extensions import db

    with ThrowawayDatabases() as pool, tempfile.TemporaryDirectory() as tmp:
        url = pool.create("bench_exports")
        app = create_app({"SQLALCHEMY_DATABASE_URI": to_sqlalchemy_url(url)})
        with app.app_context():
            upgrade()
            load_demo()
            db.session.remove()
            db.engine.dispose()
        # The interpreter, Flask and the app, exporting nothing: the fixed part of the peak.
        _, floor = run_export(url, "csv", Path(tmp) / "empty.csv", "--tag", "law",
                              "--kind", "third_place")
        print(f"baseline (an export that writes no row): peak RSS {floor / 1024:.0f} MiB")
        results: dict[str, list[tuple[int, float, int, int]]] = {n: [] for n in FORMATS}
        done = 0
        for size in sizes:
            seconds = grow(url, done + 1, size)
            done = size
            total = public_count(url)
            print(f"\n{total:,} public entries ({size:,} synthetic, inserted in "
                  f"{seconds:.1f} s)")
            print(f"{'format':<12} {'time':>8} {'entries/s':>10} {'file':>10} {'peak RSS':>9}")
            for name in FORMATS:
                out = Path(tmp) / f"export-{name}"
                elapsed, peak = run_export(url, name, out)
                size_mb = out.stat().st_size / 1e6
                results[name].append((total, elapsed, peak, out.stat().st_size))
                print(f"{name:<12} {elapsed:>7.2f}s {total / elapsed:>10,.0f} "
                      f"{size_mb:>8.1f}MB {peak / 1024:>7.0f}MiB")
                out.unlink()
        if len(sizes) > 1:
            print("\npeak memory, largest size against smallest (1.00 = flat):")
            for name, rows in results.items():
                (n0, _, p0, _), (n1, _, p1, _) = rows[0], rows[-1]
                print(f"{name:<12} {p0 / 1024:>5.0f} MiB at {n0:,} -> {p1 / 1024:>5.0f} MiB "
                      f"at {n1:,}: x{p1 / p0:.2f} for x{n1 / n0:.1f} entries")


if __name__ == "__main__":
    main()
