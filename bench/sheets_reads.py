"""Reads with and without evaluation sheets: the data state must not grow with them.

    .venv/bin/python bench/sheets_reads.py [--entries 100000] [--sheets 20000]

The open-data base of bench/open_data.py (the demo and N synthetic entries), served by
gunicorn with the response cache off (every answer built); an OGC items page of 1,000,
one OGC item, one API entry and the full GeoJSON feed (5 rounds), requests per second
(`--entries 1000000` for the 1M base); then S sheets of six answers each
are added and the same is measured again. Before migration 0010 the data state hashed
every answer's xmin: tenfold slower reads with 20,000 sheets. Target: within 10 %.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.localdb import server_url
from bench.open_data import get, gunicorn, prepare, throwaway_database

SHEETS_SQL = """
INSERT INTO evaluations (id, entry_id, title, held_on, state)
SELECT gen_random_uuid(), e.id, 'Séance ' || n, DATE '2026-01-01' + (n %% 300),
       CASE WHEN n %% 2 = 0 THEN 'published' ELSE 'draft' END
FROM generate_series(1, %(n)s) AS n
JOIN LATERAL (SELECT id FROM entries ORDER BY id
              OFFSET n %% 5000 LIMIT 1) AS e ON true;
INSERT INTO answers (evaluation_id, key_slug, position, level, strengths)
SELECT ev.id, k.slug, k.position, 2, 'Des forces'
FROM evaluations AS ev CROSS JOIN evaluation_keys AS k
WHERE ev.title LIKE 'Séance %%';
"""


def rates(urls: dict[str, str], rounds: int = 40) -> dict[str, float]:
    out = {}
    for name, url in urls.items():
        assert get(url)[2] == 200, name
        # The full feed takes seconds: fewer rounds.
        times = sorted(get(url)[0] for _ in range(rounds if "geojson" not in url else 5))
        out[name] = 1 / times[len(times) // 2]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--sheets", type=int, default=20_000)
    args = parser.parse_args()
    python = Path(sys.executable)
    with throwaway_database(server_url()) as url, tempfile.TemporaryDirectory():
        prepare(url, args.entries)
        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute("SELECT id, slug FROM entries WHERE slug = 'bench-4242'")
            entry_id, slug = cur.fetchone()
        conn.close()
        env = {"DATABASE_URL": url, "SECRET_KEY": "bench", "ATLAS_RESPONSE_CACHE_MB": "0"}
        with gunicorn(python, "app.wsgi:app", env) as base:
            urls = {"OGC items page of 1,000": f"{base}/ogc/collections/entries/items?limit=1000",
                    "OGC single item": f"{base}/ogc/collections/entries/items/{entry_id}",
                    "API single entry": f"{base}/api/v1/entries/{slug}",
                    "full GeoJSON feed": f"{base}/api/v1/entries.geojson"}
            before = rates(urls)
            started = time.perf_counter()
            with psycopg2.connect(url) as conn, conn.cursor() as cur:
                cur.execute(SHEETS_SQL, {"n": args.sheets})
                cur.execute("SELECT count(*) FROM answers")
                answers = cur.fetchone()[0]
            conn.close()
            conn = psycopg2.connect(url)
            conn.autocommit = True
            conn.cursor().execute("VACUUM ANALYZE")
            conn.close()
            print(f"{args.sheets:,} sheets added ({answers:,} answers in all) in "
                  f"{time.perf_counter() - started:.1f} s")
            after = rates(urls)
        print(f"\nrequests/second, response cache off, median of 40 (feed: of 5) "
              f"({args.entries:,} entries)")
        for name in urls:
            print(f"  {name:26s} without sheets {before[name]:7.1f}   with "
                  f"{after[name]:7.1f}   ratio {after[name] / before[name]:.2f} "
                  "(target >= 0.90)")


if __name__ == "__main__":
    main()
