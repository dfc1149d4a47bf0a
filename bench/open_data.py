"""Benchmark of the open-data outputs on 100,000 synthetic entries (run on demand, not a test).

    make bench            # or: .venv-bench/bin/python bench/open_data.py [--entries N]

It creates a throwaway database on the project's PostgreSQL (the local cluster, or
the server of DATABASE_URL), migrates it, loads the demo tags, bulk-inserts N
synthetic entries in SQL, then times, over real HTTP (gunicorn, one sync worker
each):

* the full GeoJSON feed (/api/v1/entries.geojson) against the database's own limit:
  the same JSON produced by `psql` with COPY from the same SQL;
* items pages of 1,000 (/ogc/.../items?limit=1000, first and deep pages) against
  pygeoapi serving the same PostGIS table through its PostgreSQL provider: ours as
  configured (repeated pages come from the response cache, as they would for a
  map's many visitors) and ours cold (ATLAS_RESPONSE_CACHE_MB=0: every page built
  from the stored features).

It prints figures and ratios and drops the database. Targets (issue 4): full feed
within 1.5x of COPY; items pages at least 5x pygeoapi's throughput.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import to_sqlalchemy_url  # noqa: E402
from app.localdb import ThrowawayDatabases, libpq_url, server_url  # noqa: E402
from bench.harness import wait_for_port  # noqa: E402

PAGE = 1_000
REPEAT = 20

SYNTHETIC_SQL = """
INSERT INTO entries (id, slug, kind, name, summary, description, geom, street, postcode,
                     city, country, website, status, founded, moderation, created_at,
                     updated_at, version)
SELECT gen_random_uuid(), 'bench-' || i,
       (ARRAY['commons', 'third_place', 'initiative'])[1 + mod(i, 3)],
       'Lieu commun ' || i,
       'Résumé de l''entrée synthétique ' || i || ', pour mesurer.',
       repeat('Une description en Markdown, de quelques phrases. ', 6),
       CASE WHEN mod(i, 10) = 0 THEN NULL ELSE ST_SetSRID(ST_MakePoint(
           round((2.85 + random() * 0.45)::numeric, 7)::float8,
           round((50.50 + random() * 0.30)::numeric, 7)::float8), 4326) END,
       i || ' rue des Communs', '59000',
       (ARRAY['Lille', 'Roubaix', 'Tourcoing', 'Villeneuve-d''Ascq'])[1 + mod(i, 4)],
       'FR', 'https://example.org/' || i, 'active', 1990 + mod(i, 30), 'published',
       now() - (i || ' minutes')::interval, now() - (i || ' seconds')::interval, 1
FROM generate_series(1, %(n)s) AS i
"""
TAGS_SQL = """
INSERT INTO entry_tags (entry_id, tag_id)
SELECT e.id, t.id FROM entries e
JOIN LATERAL (SELECT id FROM tags ORDER BY id
              OFFSET (abs(hashtext(e.slug || %(salt)s)) %% (SELECT count(*) FROM tags))
              LIMIT 1) t ON true
WHERE e.slug LIKE 'bench-%%'
ON CONFLICT DO NOTHING
"""


def libpq(url: str, database: str | None = None) -> str:
    return libpq_url(url, database or make_url(to_sqlalchemy_url(url)).database)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def throwaway_database(base: str):
    with ThrowawayDatabases(base) as pool:
        yield pool.create("bench")


def prepare(url: str, n: int) -> None:
    from flask_migrate import upgrade

    from app import create_app
    from app.demo import load_demo
    from app.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": to_sqlalchemy_url(url)})
    with app.app_context():
        upgrade()
        load_demo()
        db.session.remove()
        db.engine.dispose()
    started = time.perf_counter()
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(SYNTHETIC_SQL, {"n": n})
        for salt in ("a", "b"):
            cur.execute(TAGS_SQL, {"salt": salt})
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
        cur.execute("SELECT count(*) FROM entries WHERE deleted_at IS NULL "
                    "AND moderation = 'published'")
        total = cur.fetchone()[0]
    conn.close()
    print(f"database: {total:,} public entries ({n:,} synthetic) inserted in "
          f"{time.perf_counter() - started:.1f} s")


@contextmanager
def gunicorn(python: Path, target: str, env: dict[str, str], cwd: Path | None = None):
    port = free_port()
    command = [str(python), "-m", "gunicorn", "--workers", "1", "--threads", "1",
               "--bind", f"127.0.0.1:{port}", "--timeout", "300", "--log-level", "critical",
               target]
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=cwd or ROOT,
                               start_new_session=True)
    try:
        wait_for_port(port, process, target)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[float, bytes, int]:
    """Seconds to the last byte, the body, the status."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    started = time.perf_counter()
    conn.request("GET", path, headers={"Accept-Encoding": "identity", **(headers or {})})
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, body, response.status


def best_of(times: int, fn) -> float:
    return min(fn() for _ in range(times))


def copy_feed(url: str, sql: str, out: Path) -> float:
    """psql COPY of the features' JSON (one per line, unescaped); seconds."""
    started = time.perf_counter()
    with out.open("wb") as sink:
        subprocess.run(["psql", url, "-X", "-q", "-c",
                        f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, QUOTE e'\\x01', "
                        f"DELIMITER e'\\x02')"], stdout=sink, check=True)
    return time.perf_counter() - started


def feed_sql(url: str) -> str:
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql

    from app import create_app
    from app.formats.geojson import feature_json
    from app.models import Entry
    from app.query import EntryFilter
    from app.query.entries import conditions

    app = create_app({"SQLALCHEMY_DATABASE_URI": to_sqlalchemy_url(url)})
    with app.app_context():
        stmt = select(feature_json()).where(*conditions(EntryFilter())).order_by(Entry.id)
        return str(stmt.compile(dialect=postgresql.dialect(),
                                compile_kwargs={"literal_binds": True}))


def pygeoapi_config(url: str, port: int, directory: Path) -> tuple[Path, Path]:
    db = make_url(url)
    columns = ["slug", "kind", "name", "summary", "description", "status", "street",
               "postcode", "city", "country", "website", "email", "phone", "opening_hours",
               "licence", "founded", "created_at", "updated_at", "version"]
    config = {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port},
            "url": f"http://127.0.0.1:{port}",
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "languages": ["en-US"],
            "limits": {"default_items": 10, "max_items": 200_000},
            "limit": 10,
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                    "attribution": "OpenStreetMap"},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "bench", "description": "bench",
                               "keywords": ["bench"], "keywords_type": "theme",
                               "terms_of_service": "https://example.org",
                               "url": "https://example.org"},
            "license": {"name": "ODbL", "url": "https://example.org"},
            "provider": {"name": "bench", "url": "https://example.org"},
            "contact": {"name": "bench", "position": "bench", "address": "bench",
                        "city": "Lille", "stateorprovince": "Nord", "postalcode": "59000",
                        "country": "FR", "phone": "+33", "fax": "+33",
                        "email": "bench@example.org", "url": "https://example.org",
                        "hours": "always", "instructions": "none", "role": "pointOfContact"},
        },
        "resources": {
            "entries": {
                "type": "collection", "title": "Entries", "description": "Entries",
                "keywords": ["commons"],
                "extents": {"spatial": {
                    "bbox": [-180, -90, 180, 90],
                    "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
                "providers": [{
                    "type": "feature", "name": "PostgreSQL",
                    "data": {"host": db.host, "port": db.port, "dbname": db.database,
                             "user": db.username, "password": db.password,
                             "search_path": ["public"]},
                    "id_field": "id", "table": "entries", "geom_field": "geom",
                    "properties": columns,
                }],
            },
        },
    }
    import yaml  # pygeoapi's own dependency

    config_path = directory / "pygeoapi.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    openapi_path = directory / "openapi.yml"
    pygeoapi = shutil.which("pygeoapi", path=str(Path(sys.executable).parent))
    subprocess.run([pygeoapi, "openapi", "generate", str(config_path), "--output-file",
                    str(openapi_path)], check=True, capture_output=True,
                   env={**os.environ, "PYGEOAPI_CONFIG": str(config_path)})
    return config_path, openapi_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--no-pygeoapi", action="store_true")
    args = parser.parse_args()
    python = Path(sys.executable)
    print(f"machine: {os.cpu_count()} cores; Python {sys.version.split()[0]}")

    with throwaway_database(server_url()) as url, tempfile.TemporaryDirectory() as tmp:
        prepare(url, args.entries)
        env = {"DATABASE_URL": url, "SECRET_KEY": "bench"}
        results: dict[str, float] = {}

        # -- the full feed: ours, and the same JSON out of psql COPY ----------------------
        sql = feed_sql(url)
        copy_out = Path(tmp) / "copy.txt"
        results["copy"] = best_of(3, lambda: copy_feed(url, sql, copy_out))
        with gunicorn(python, "app.wsgi:app", env) as base:
            feed_url = f"{base}/api/v1/entries.geojson"
            timings, body = [], b""
            for _ in range(3):
                elapsed, body, status = get(feed_url)
                assert status == 200
                timings.append(elapsed)
            results["feed"] = min(timings)
            features = json.loads(body)["features"]
            copied = copy_out.read_bytes().rstrip(b"\n").split(b"\n")
            same = body == (b'{"type":"FeatureCollection","features":['
                            + b",".join(copied) + b"]}")
            print(f"\nfull GeoJSON feed: {len(features):,} features, {len(body) / 1e6:.1f} MB"
                  f" (identical to the COPY output: {same})")
            print(f"  psql COPY (database's own limit) {results['copy']:.2f} s")
            print(f"  ours /api/v1/entries.geojson     {results['feed']:.2f} s   "
                  f"ratio {results['feed'] / results['copy']:.2f}x COPY (target <= 1.5x)")

            # -- items pages of 1,000, ours and pygeoapi's, interleaved ------------------
            from app.query.paging import Cursor

            deep = max(0, min(args.entries * 9 // 10, args.entries - PAGE))
            with psycopg2.connect(url) as conn, conn.cursor() as cur:
                cur.execute("SELECT id FROM entries WHERE deleted_at IS NULL AND moderation = "
                            "'published' ORDER BY id OFFSET %s LIMIT 1", (deep,))
                deep_id = cur.fetchone()[0]
            cursor = Cursor("id", (deep_id,)).encode()
            items = f"/ogc/collections/entries/items?limit={PAGE}"
            cold_env = {**env, "ATLAS_RESPONSE_CACHE_MB": "0"}
            with gunicorn(python, "app.wsgi:app", cold_env) as cold:
                # Cold: every answer built from the stored features (no response cache).
                urls = {"ours cold, first page": f"{cold}{items}",
                        "ours cold, page at 90%": f"{cold}{items}&cursor={cursor}",
                        "ours, first page": f"{base}{items}",
                        "ours, page at 90%": f"{base}{items}&cursor={cursor}"}
                if args.no_pygeoapi:
                    report_pages(urls)
                    return
                port = free_port()
                config, openapi = pygeoapi_config(url, port, Path(tmp))
                penv = {"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)}
                with gunicorn(python, "pygeoapi.flask_app:APP", penv,
                              cwd=Path(tmp)) as pbase:
                    theirs = f"{pbase}/collections/entries/items?f=json&limit={PAGE}"
                    urls["pygeoapi, first page"] = theirs
                    urls["pygeoapi, page at 90%"] = f"{theirs}&offset={deep + 1}"
                    rates = report_pages(urls)
                    elapsed, body, status = get(f"{theirs.split('?')[0]}?f=json"
                                                f"&limit={args.entries + 100}")
                    py_all = len(json.loads(body)["features"]) if status == 200 else 0
        for ours in ("ours", "ours cold"):
            for where in ("first page", "page at 90%"):
                ratio = rates[f"{ours}, {where}"] / rates[f"pygeoapi, {where}"]
                print(f"  ratio, {ours + ', ' + where:23s} {ratio:7.1f}x pygeoapi "
                      "(target >= 5x)")
        if py_all:
            print(f"\nfull collection from pygeoapi in one page: {py_all:,} features in "
                  f"{elapsed:.2f} s ({elapsed / results['feed']:.1f}x our feed)")


def report_pages(urls: dict[str, str], rounds: int = REPEAT) -> dict[str, float]:
    """Requests per second (1 / median latency); the servers take turns, round after
    round, so that load from elsewhere on the machine falls on all of them alike."""
    latencies: dict[str, list[float]] = {name: [] for name in urls}
    for name, url in urls.items():  # warm up, and check the pages are full
        _, body, status = get(url)
        assert status == 200, (name, status, body[:300])
        assert len(json.loads(body)["features"]) == PAGE, name
    for _ in range(rounds):
        for name, url in urls.items():
            latencies[name].append(get(url)[0])
    print(f"\nitems pages of {PAGE:,}: requests/second (1 / median of {rounds} "
          f"interleaved requests, one gunicorn sync worker per server)")
    rates = {}
    for name, values in latencies.items():
        rates[name] = 1 / statistics.median(values)
        print(f"  {name:24s} {rates[name]:7.1f} req/s   "
              f"({statistics.median(values) * 1000:.0f} ms)")
    return rates

if __name__ == "__main__":
    main()
