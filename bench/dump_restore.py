"""Benchmark of `flask import dump` (run on demand, not a test).

    make bench-dump         # or: .venv/bin/python bench/dump_restore.py [--entries 50000]

Fills a throwaway database (migrated, demo loaded) with N synthetic published entries
inserted in SQL (as bench/exports.py: a tenth with an OpenStreetMap source, a fifth
with a link, two tags each), exports it as a data package (`flask export datapackage`),
restores the package into an empty migrated database (`flask import dump`), then
restores it again (every entry already there: nothing to write). Each command runs in
a process of its own; the script prints their wall times, the restore's rate, its
ratio to the export's time, and checks that the restored counts equal the source's.
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
from bench.exports import grow  # noqa: E402

COUNTS_SQL = {
    "entries": "SELECT count(*) FROM entries WHERE deleted_at IS NULL "
               "AND moderation = 'published'",
    "relations": "SELECT count(*) FROM relations",
    "entry_tags": "SELECT count(*) FROM entry_tags",
    "sources": "SELECT count(*) FROM sources WHERE origin = 'osm'",
    "revisions": "SELECT count(*) FROM revisions",
}


def counts(url: str) -> dict[str, int]:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        out = {}
        for name, sql in COUNTS_SQL.items():
            cur.execute(sql)
            out[name] = cur.fetchone()[0]
    conn.close()
    return out


def normalise(url: str) -> None:
    """The synthetic descriptions as the write service stores text (trimmed): else the
    second restore would report every entry as differing."""
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("UPDATE entries SET description = btrim(description) "
                    "WHERE description <> btrim(description)")
    conn.close()


def flask(url: str, *args: str) -> tuple[float, str]:
    """(seconds, stdout) of `flask ARGS` in a process of its own, on `url`."""
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "app"}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed, result.stdout


def migrated(pool: ThrowawayDatabases, label: str, *, demo: bool) -> str:
    from flask_migrate import upgrade

    from app import create_app
    from app.config import to_sqlalchemy_url
    from app.demo import load_demo
    from app.extensions import db

    url = pool.create(label)
    app = create_app({"SQLALCHEMY_DATABASE_URI": to_sqlalchemy_url(url)})
    with app.app_context():
        upgrade()
        if demo:
            load_demo()
        db.session.remove()
        db.engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=50_000,
                        help="Synthetic entries (default 50,000)")
    args = parser.parse_args()

    with ThrowawayDatabases() as pool, tempfile.TemporaryDirectory() as tmp:
        source = migrated(pool, "bench_dump_source", demo=True)
        seconds = grow(source, 1, args.entries)
        normalise(source)
        before = counts(source)
        print(f"source: {before['entries']:,} public entries ({args.entries:,} synthetic, "
              f"inserted in {seconds:.1f} s), {before['relations']:,} relations, "
              f"{before['entry_tags']:,} tag links, {before['sources']:,} OSM sources")
        package = Path(tmp) / "atlas.zip"
        exported, _ = flask(source, "export", "datapackage", "-o", str(package))
        print(f"export datapackage: {exported:.1f} s, "
              f"{package.stat().st_size / 1e6:.1f} MB")

        target = migrated(pool, "bench_dump_target", demo=False)
        restored, out = flask(target, "import", "dump", str(package))
        after = counts(target)
        summary = next((line for line in out.splitlines() if line.startswith("created:")), "")
        print(f"import dump (empty database): {restored:.1f} s, "
              f"{after['entries'] / restored:,.0f} entries/s, x{restored / exported:.1f} "
              f"the export's time — {summary.strip()}")
        again, out = flask(target, "import", "dump", str(package))
        problems = [line for line in out.splitlines() if line.startswith(("conflict", "rej"))]
        for line in problems[:3]:
            print("  ", line)
        summary = next((line for line in out.splitlines() if line.startswith("created:")), "")
        print(f"import dump again (all there): {again:.1f} s — {summary.strip()}")
        same = {k: after[k] == before[k] for k in ("entries", "relations", "entry_tags",
                                                    "sources")}
        print(f"restored counts equal the source's: {same} "
              f"(revisions written: {after['revisions']:,})")
        if not all(same.values()):
            raise SystemExit(f"counts differ: source {before}, restored {after}")


if __name__ == "__main__":
    main()
