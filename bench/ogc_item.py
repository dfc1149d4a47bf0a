"""A single OGC item (/ogc/collections/entries/items/<id>) over HTTP (run on demand).

    .venv/bin/python bench/ogc_item.py [--entries 100000] [--requests 600]

On the kept database of bench/map_scale.py (`atlas_benchmap_<n>`, built there if
missing), gunicorn with one sync worker: distinct random items, so nothing comes
from the response cache, then one item asked for again and again (cached), then
revalidations (If-None-Match, 304). Prints the median time per request and
requests/s for each.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.map_scale import ensure_database, gunicorn  # noqa: E402


def timed(base: str, path: str, headers: dict[str, str] | None = None) -> tuple[float, int, str]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    started = time.perf_counter()
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    response.read()
    took = time.perf_counter() - started
    conn.close()
    return took, response.status, response.headers.get("ETag", "")


def report(label: str, times: list[float]) -> None:
    median = statistics.median(times)
    print(f"{label}: median {median * 1000:.2f} ms, {len(times) / sum(times):,.0f} requests/s "
          f"({len(times)} requests)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=600)
    args = parser.parse_args()
    url = ensure_database(args.entries, drop=False)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM entries WHERE moderation = 'published' "
                    "ORDER BY random() LIMIT %s", (args.requests,))
        ids = [str(r[0]) for r in cur.fetchall()]
    path = "/ogc/collections/entries/items/"
    with gunicorn({"DATABASE_URL": url, "ATLAS_SECRET_KEY": "bench"}, threads=1) as (base, _):
        for i in ids[:20]:  # warm the worker (imports, pool, plans)
            timed(base, path + i)
        distinct = []
        for i in ids[20:]:
            took, status, _ = timed(base, path + i)
            assert status == 200, status
            distinct.append(took)
        same = [timed(base, path + ids[0])[0] for _ in range(len(ids) - 20)]
        etag = timed(base, path + ids[0])[2]
        revalidated = []
        for _ in range(len(ids) - 20):
            took, status, _ = timed(base, path + ids[0], {"If-None-Match": etag})
            assert status == 304, status
            revalidated.append(took)
    print(f"\n== single OGC item, {args.entries:,} entries ==")
    report("distinct items (none cached)", distinct)
    report("one item again (cached)", same)
    report("revalidation (304)", revalidated)


if __name__ == "__main__":
    main()
