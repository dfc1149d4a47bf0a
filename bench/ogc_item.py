"""A single OGC item (/ogc/collections/entries/items/<id>) over HTTP (run on demand).

    .venv/bin/python bench/ogc_item.py [--entries 100000] [--requests 600]

On the kept database of bench/map_scale.py (`atlas_benchmap_<n>`, built there if
missing), gunicorn with one sync worker: distinct random items, so nothing comes
from the response cache, one item asked for again and again (cached), and
revalidations (If-None-Match, 304), interleaved. Prints the median time per request
and requests/s for each. With --compare-with DIR (e.g. `git archive <commit> | tar
-x -C DIR`), the same requests go in turn to that checkout's code too.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
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
    parser.add_argument("--compare-with", help="another checkout of the project (git archive"
                        " of an older commit), served alike and asked in turn")
    args = parser.parse_args()
    url = ensure_database(args.entries, drop=False)
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM entries WHERE moderation = 'published' "
                    "ORDER BY random() LIMIT %s", (args.requests,))
        ids = [str(r[0]) for r in cur.fetchall()]
    path = "/ogc/collections/entries/items/"
    env = {"DATABASE_URL": url, "ATLAS_SECRET_KEY": "bench"}
    servers = {"this checkout": ROOT}
    if args.compare_with:
        servers["--compare-with"] = Path(args.compare_with).resolve()
    with contextlib.ExitStack() as stack:
        bases = {label: stack.enter_context(gunicorn(env, threads=1, cwd=cwd))[0]
                 for label, cwd in servers.items()}
        for base in bases.values():
            for i in ids[:20]:  # warm the worker (imports, pool, plans)
                timed(base, path + i)
        etags = {label: timed(base, path + ids[0])[2] for label, base in bases.items()}
        times: dict[tuple[str, str], list[float]] = {}
        # Interleaved, request by request, so that the machine's load falls on all alike.
        for i in ids[20:]:
            for label, base in bases.items():
                took, status, _ = timed(base, path + i)
                assert status == 200, status
                times.setdefault((label, "distinct items (none cached)"), []).append(took)
                took, _, _ = timed(base, path + ids[0])
                times.setdefault((label, "one item again (cached)"), []).append(took)
                took, status, _ = timed(base, path + ids[0], {"If-None-Match": etags[label]})
                assert status == 304, status
                times.setdefault((label, "revalidation (304)"), []).append(took)
    print(f"\n== single OGC item, {args.entries:,} entries, load average "
          f"{os.getloadavg()[0]:.2f} ==")
    for (label, kind), values in times.items():
        report(f"{label}, {kind}", values)

if __name__ == "__main__":
    main()
