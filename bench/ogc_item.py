"""A single OGC item (/ogc/collections/entries/items/<id>) over HTTP (run on demand).

    .venv/bin/python bench/ogc_item.py [--entries 100000] [--requests 600]

On the kept database of bench/map_scale.py (`atlas_benchmap_<n>`, built there if
missing), gunicorn with one sync worker: distinct random items, so nothing comes
from the response cache, one item asked for again and again (cached), and
revalidations (If-None-Match, 304), interleaved. Prints the median time per request
and requests/s for each. With --compare-with DIR (e.g. `git archive <commit> | tar
-x -C DIR`), the same requests go in turn to that checkout's code too; with --tipg BIN (a virtual
environment of its own: `python -m venv V && V/bin/pip install tipg uvicorn`), to
tipg serving the same table.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import wait_for_port  # noqa: E402
from bench.map_scale import ensure_database, gunicorn  # noqa: E402
from bench.open_data import free_port  # noqa: E402


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


@contextlib.contextmanager
def tipg(bin_dir: Path, url: str):
    """tipg on uvicorn (one worker) over the same database; yields its base URL."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "TIPG_DB_TABLES": '["public.entries"]'}
    process = subprocess.Popen([str(bin_dir / "uvicorn"), "tipg.main:app", "--port", str(port),
                                "--log-level", "warning"], env=env, start_new_session=True)
    try:
        wait_for_port(port, process, "tipg")
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


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
    parser.add_argument("--tipg", help="the bin/ of a virtual environment with tipg and "
                        "uvicorn: tipg serves the same table (one worker), asked in turn")
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
        paths = dict.fromkeys(bases, path)
        if args.tipg:
            bases["tipg"] = stack.enter_context(tipg(Path(args.tipg), url))
            paths["tipg"] = "/collections/public.entries/items/"
        for label, base in bases.items():
            for i in ids[:20]:  # warm the worker (imports, pool, plans)
                timed(base, paths[label] + i)
        etags = {label: timed(base, paths[label] + ids[0])[2] for label, base in bases.items()}
        times: dict[tuple[str, str], list[float]] = {}
        # Interleaved, request by request, so that the machine's load falls on all alike.
        for i in ids[20:]:
            for label, base in bases.items():
                took, status, _ = timed(base, paths[label] + i)
                assert status == 200, (label, status)
                times.setdefault((label, "distinct items (none cached)"), []).append(took)
                took, _, _ = timed(base, paths[label] + ids[0])
                times.setdefault((label, "one item again (cached)"), []).append(took)
                if etags[label]:  # tipg sends no ETag
                    took, status, _ = timed(base, paths[label] + ids[0],
                                            {"If-None-Match": etags[label]})
                    assert status == 304, (label, status)
                    times.setdefault((label, "revalidation (304)"), []).append(took)
    print(f"\n== single OGC item, {args.entries:,} entries, load average "
          f"{os.getloadavg()[0]:.2f} ==")
    for (label, kind), values in times.items():
        report(f"{label}, {kind}", values)

if __name__ == "__main__":
    main()
