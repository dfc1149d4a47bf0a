"""The map past the single file: 100,000 to 1,000,000 entries in cells mode (run on demand).

    .venv/bin/python bench/map_scale.py [--entries 100000,1000000] [--runs 3] [--drop]

For each size, a database `atlas_benchmap_<n>` on the project's PostgreSQL, filled
once in SQL (set-based INSERT, as bench/map_markers.py: 40 % around Lille, the rest
across mainland France) and kept for the next run unless --drop. Then, on gunicorn
(one gthread worker, 4 threads, the default MAP_FILE_MAX_MARKERS so the map is in
cells mode past 20,000), headless Chromium (Debian's, through Playwright) draws a
country view (zoom 6) and a city view (zoom 12): the time from navigation start to
map.js's `atlas-clusters-drawn` mark, and each request to /map/ (the markers file and
the view's blocks of 4 × 4 tiles, /map/blocks/z/x/y.json; time to first byte
as the browser saw it), first cold (a new worker), then warm, then after one entry
moved (the first visit after a change: nothing kept fits the new data state). Last, the
worker's peak resident memory (VmHWM), after a French search and a filter that keeps
every entry (the count pyramid of migration 0023 holds the unfiltered and by-kind
counts only: these count their matches once per data state, the filter's pass of
migration 0025), by tile and by block; and the passes kept. Targets (issue 17): drawn
in under 2 s, answers under 200 ms each, memory flat from 100k to 1M.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from app.localdb import libpq_url, server_url  # noqa: E402
from bench.harness import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    make_app,
    migrate,
    wait_for_port,
)
from bench.map_markers import INSERT  # noqa: E402
from bench.open_data import free_port  # noqa: E402

VIEWS = {"France, zoom 6": "#map=6/46.8/2.5", "Lille, zoom 12": "#map=12/50.63/3.06",
         # A filter that keeps every entry (see BROAD) and a selective one (a tag on one
         # entry in ten, see TAGGED): the pyramid holds neither, the filter's pass does.
         "France, zoom 6, q=banc": "?q=banc#map=6/46.8/2.5",
         "Lille, zoom 12, q=banc": "?q=banc#map=12/50.63/3.06",
         "France, zoom 6, tag=jardin-banc": "?tag=jardin-banc#map=6/46.8/2.5",
         "Lille, zoom 12, tag=jardin-banc": "?tag=jardin-banc#map=12/50.63/3.06"}
# One entry in ten carries this tag (added once to a kept base, see tagged()).
TAGGED = ("INSERT INTO tags (slug, label_fr, label_en)"
          " VALUES ('jardin-banc', 'Jardin du banc', 'Bench garden') ON CONFLICT DO NOTHING;"
          " SELECT set_config('atlas.defer_features', 'on', true);"  # features unread here
          " INSERT INTO entry_tags (entry_id, tag_id) SELECT e.id, t.id FROM entries e, tags t"
          " WHERE t.slug = 'jardin-banc' AND hashtext(e.slug) % 10 = 0 ON CONFLICT DO NOTHING;"
          " SELECT atlas_tag_cells_compact(), atlas_map_cells_compact()")
# A word on one entry in ten; two words on one in eighty ("Épicerie de Fives").
SEARCH = ("/map/cells/6/32/22.json?q=epicerie", "/map/blocks/6/8/5.json?q=epicerie",
          "/map/blocks/6/8/5.json?q=epicerie+fives")
# A filter that keeps every entry ("banc" is in every synthetic summary): the pyramid
# does not hold it, so the counts and the densest tile (Lille's, zoom 6) scan.
BROAD = ("/map/markers.json?q=banc", "/map/cells/6/32/21.json?q=banc",
         "/map/blocks/6/8/5.json?q=banc")

MARKS = """() => {
  const first = name => (performance.getEntriesByName(name)[0] || {}).startTime;
  const map = performance.getEntriesByType('resource').filter(r => r.name.includes('/map/'));
  const nav = performance.getEntriesByType('navigation')[0];
  return {drawn: first('atlas-clusters-drawn'), html: nav.responseEnd,
          shown: [...document.querySelectorAll('.atlas-cluster-count')]
                   .reduce((s, e) => s + Number(e.dataset.count), 0)
                 + document.querySelectorAll('.atlas-marker').length,
          requests: map.map(r => [r.name.replace(location.origin, ''),
                                  r.responseStart - r.requestStart])};
}"""


def admin():
    conn = psycopg2.connect(libpq_url(server_url(), "postgres"))
    conn.autocommit = True
    return conn


def ensure_database(n: int, drop: bool) -> str:
    """The kept database of n synthetic entries, built once (COPY-free, one INSERT)."""
    name = f"atlas_benchmap_{n}"
    url = libpq_url(server_url(), name)
    conn = admin()
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        exists = cur.fetchone() is not None
        if exists and drop:
            cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = False
        if exists:
            with psycopg2.connect(url) as c, c.cursor() as cur2:
                cur2.execute("SELECT to_regclass('bench_done') IS NOT NULL")
                if cur2.fetchone()[0]:
                    conn.close()
                    migrate(make_app(url))  # the migrations added since
                    print(f"{name}: kept from an earlier run")
                    tagged(url)
                    return url
            cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    app = make_app(url)
    migrate(app)
    started = time.perf_counter()
    with psycopg2.connect(url) as c, c.cursor() as cur:
        cur.execute("SELECT setseed(0.42)")
        cur.execute(INSERT.text.replace(":n", str(int(n))))
        # One statement of a million rows: its counts folded in now, not by a visitor.
        cur.execute("SELECT atlas_map_cells_compact(), atlas_tag_cells_compact()")
        cur.execute("CREATE TABLE bench_done ()")
    c = psycopg2.connect(url)
    c.autocommit = True
    with c.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    c.close()
    print(f"{name}: {n:,} entries inserted in {time.perf_counter() - started:.0f} s")
    tagged(url)
    return url


def tagged(url: str) -> None:
    """The selective filter's tag, on one entry in ten (once per kept base)."""
    with psycopg2.connect(url) as c, c.cursor() as cur:
        cur.execute("SELECT 1 FROM tags WHERE slug = 'jardin-banc'")
        if cur.fetchone() is not None:
            return
        started = time.perf_counter()
        cur.execute(TAGGED)
    c.close()
    print(f"tag jardin-banc put on one entry in ten in {time.perf_counter() - started:.0f} s")


def passes_size(url: str) -> str:
    """The filtered map's passes kept in the database (migration 0025)."""
    with psycopg2.connect(url) as c, c.cursor() as cur:
        cur.execute("SELECT count(*), pg_total_relation_size('map_filter_chunks')"
                    " + pg_total_relation_size('map_filter_passes') FROM map_filter_passes")
        n, size = cur.fetchone()
    c.close()
    return f"{n} filtered passes kept, {size / 2**20:,.1f} MiB"


def move_one(url: str) -> None:
    """A write a visitor sees: one entry moves a little (the data state moves with it)."""
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("UPDATE entries SET geom = ST_Translate(geom, 0.0001, 0) WHERE id ="
                    " (SELECT id FROM entries WHERE geom IS NOT NULL ORDER BY id LIMIT 1)")
    conn.close()


@contextmanager
def gunicorn(env: dict[str, str], threads: int = 4,
             cwd: Path = ROOT) -> Iterator[tuple[str, int]]:
    """The app on gunicorn, one worker (gthread of `threads`, else sync); yields
    (base URL, master pid)."""
    port = free_port()
    kind = ["--worker-class", "gthread", "--threads", str(threads)] if threads > 1 else []
    command = [sys.executable, "-m", "gunicorn", "--workers", "1", *kind,
               "--bind", f"127.0.0.1:{port}", "--timeout", "600",
               "--log-level", "critical", "app.wsgi:app"]
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=cwd,
                               start_new_session=True)
    try:
        wait_for_port(port, process, "gunicorn", timeout=120)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def worker_peak_kib(master_pid: int) -> int:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    status = Path(f"/proc/{children[0]}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines()
                    if line.startswith("VmHWM")))


def visit(browser, base: str, view: str) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(base + "/" + view)
    page.wait_for_selector("#map[data-drawn]", timeout=120_000)
    out = page.evaluate(MARKS)
    context.close()
    return out


def run(n: int, runs: int, drop: bool) -> None:
    url = ensure_database(n, drop)
    env = {"DATABASE_URL": url, "ATLAS_SECRET_KEY": "bench"}
    with gunicorn(env) as (base, master), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        print(f"\n== {n:,} entries (load average {os.getloadavg()[0]:.2f}) ==")
        for label, view in VIEWS.items():
            samples = [visit(browser, base, view) for _ in range(runs)]
            cold, warm = samples[0], samples[1:]
            slowest = max(cold["requests"], key=lambda r: r[1])
            print(f"{label}: drawn {cold['drawn']:,.0f} ms cold (page "
                  f"{cold['html']:,.0f} ms), "
                  + (f"{statistics.median(s['drawn'] for s in warm):,.0f} ms warm; "
                     if warm else "; ")
                  + f"{cold['shown']:,} entries in {len(cold['requests'])} requests; "
                  f"cold answers median {statistics.median(r[1] for r in cold['requests']):,.0f}"
                  f" ms, slowest {slowest[1]:,.0f} ms ({slowest[0]})"
                  + (f"; warm answers median "
                     f"{statistics.median(r[1] for s in warm for r in s['requests']):,.0f} ms"
                     if warm else ""))
            move_one(url)  # the first visit after a change: nothing kept fits it
            after = visit(browser, base, view)
            slowest = max(after["requests"], key=lambda r: r[1])
            print(f"{label}, after a change: drawn {after['drawn']:,.0f} ms (page "
                  f"{after['html']:,.0f} ms); slowest answer {slowest[1]:,.0f} ms "
                  f"({slowest[0]})")
        browser.close()
        import urllib.request

        for path in SEARCH:
            move_one(url)  # cold: nothing kept fits
            started = time.perf_counter()
            urllib.request.urlopen(base + path).read()  # noqa: S310 (our loopback server)
            took = (time.perf_counter() - started) * 1000
            print(f"a French search, cold: {took:,.0f} ms ({path})")
        for path in BROAD:
            move_one(url)
            started = time.perf_counter()
            urllib.request.urlopen(base + path).read()  # noqa: S310 (our loopback server)
            took = (time.perf_counter() - started) * 1000
            print(f"a filter that keeps every entry, cold: {took:,.0f} ms ({path})")
        print(f"worker peak memory (VmHWM): {worker_peak_kib(master) / 1024:,.0f} MiB")
        print(passes_size(url))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", default="100000,1000000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--drop", action="store_true", help="rebuild the kept databases")
    args = parser.parse_args()
    for n in (int(s) for s in args.entries.split(",")):
        run(n, args.runs, args.drop)


if __name__ == "__main__":
    main()
