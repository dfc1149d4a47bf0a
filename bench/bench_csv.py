"""CSV import speed: rows per second into PostGIS, duplicate detection on.

    .venv/bin/python bench/bench_csv.py [ROWS] [REPEATS]     (default 50,000 rows, 3 times)
    .venv/bin/python bench/bench_csv.py --memory [SMALL] [BIG] (default 10,000 then 100,000)

Writes an invented CSV (semicolons, decimal commas, one place every ~100 m over the
Lille area, so no row is a twin of another), imports it into a throwaway database
(migrated, with the demo data), then imports it again (every row unchanged), and
prints the rates; then imports a copy where 2,000 rows changed (updates). Each
repeat uses a new database. Target: 5,000 rows/s for the first
import, duplicate detection on.

The file is read and validated in a child process (importers.reader_process: a fork,
as this script runs one thread) while this process writes. The machine's 2 cores are
shared (other work, and PostgreSQL itself), so the script also prints the CPU seconds
of this process (writing), of the reading process, and of the PostgreSQL backend
(read from /proc when the server is local): the work per row, whatever the load.
"""

from __future__ import annotations

import csv
import math
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, bench_app

HEADER = ["Identifiant", "Type", "Nom", "Adresse", "Code postal", "Ville", "Latitude",
          "Longitude", "Site", "Étiquettes"]
MAPPING = ROOT / "tests" / "data" / "mappings" / "tiers-lieux-test.toml"


def write_rows(path: Path, count: int, changed: int = 0) -> None:
    """`count` invented rows; the first `changed` ones with another address."""
    side = math.isqrt(count) + 1
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADER)
        for i in range(count):
            lat = 50.50 + (i // side) * 0.0009
            lon = 2.80 + (i % side) * 0.0014
            street = f"{i} {'avenue' if i < changed else 'rue'} du Test"
            writer.writerow([f"b-{i}", "Tiers-lieu", f"Lieu du banc {i}", street,
                             "59000", "Lille", f"{lat:.6f}".replace(".", ","),
                             f"{lon:.6f}".replace(".", ","), f"https://lieu-{i}.example.org",
                             "coworking"])


def backend_cpu() -> float | None:
    """CPU seconds used so far by this session's PostgreSQL backend, if it is local."""
    from sqlalchemy import text

    from app.extensions import db

    pid = db.session.scalar(text("SELECT pg_backend_pid()"))
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    """CPU seconds of this process's finished children: the reading process (a fork)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(label: str, rows: int, work) -> float:
    pg0, cpu0, start = backend_cpu(), time.process_time(), time.perf_counter()
    child0 = children_cpu()
    result = work()
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    child = children_cpu() - child0
    pg1 = backend_cpu()
    pg = f"{pg1 - pg0:.1f} s" if pg0 is not None and pg1 is not None else "n/a"
    print(f"  {label}: {rows:,} rows in {wall:.1f} s = {rows / wall:,.0f} rows/s; "
          f"CPU: Python {cpu:.1f} s writing + {child:.1f} s reading (child process), "
          f"PostgreSQL {pg}; {result.counts}")
    return rows / wall


def memory(small: int, big: int) -> None:
    """Peak memory of an import of SMALL rows then BIG more, in a fresh process (the probe
    tests/unit/test_import_csv.py runs at 2,000 and 20,000): flat means the second import
    raises the peak by about what the first did, not BIG/SMALL times as much."""
    from tests.memory_probe import memory_probe_files, run_memory_probe

    with bench_app("bench_csv_memory") as app, tempfile.TemporaryDirectory() as tmp:
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        url = url if isinstance(url, str) else url.render_as_string(hide_password=False)
        out = run_memory_probe(url, memory_probe_files(Path(tmp), small, big))
    for name, key in (("writing process", "peaks_kib"), ("reading processes", "child_peaks_kib")):
        warm, after_small, after_big = out[key]
        print(f"{name}: peak {warm / 1024:.1f} MiB warm, +{(after_small - warm) / 1024:.1f} MiB "
              f"after {small:,} rows, +{(after_big - after_small) / 1024:.1f} MiB after "
              f"{big:,} more (ratio {(after_big - after_small) / max(after_small - warm, 1):.2f};"
              f" rows ratio {big / small:.0f})")
    print(f"counts: {out['counts']}")


def main() -> None:
    if sys.argv[1:2] == ["--memory"]:
        sizes = [int(a) for a in sys.argv[2:4]]
        memory(*(sizes + [10_000, 100_000][len(sizes):]))
        return
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    from importers.mapping import load_csv_mapping
    from importers.pipeline import Pipeline, RunOptions
    from importers.sources import CsvFile

    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    firsts, seconds, updates = [], [], []
    changed = min(2_000, rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.csv"
        write_rows(path, rows)
        edited = Path(tmp) / "edited.csv"
        write_rows(edited, rows, changed=changed)
        mapping = load_csv_mapping(MAPPING)
        for repeat in range(repeats):
            with bench_app(f"bench_csv_{repeat}"):
                print(f"repeat {repeat + 1}:")
                firsts.append(timed("first import (created)", rows, lambda: Pipeline(
                    mapping, RunOptions()).run(CsvFile(path, mapping))))
                seconds.append(timed("second import (unchanged)", rows, lambda: Pipeline(
                    mapping, RunOptions()).run(CsvFile(path, mapping))))
                start = time.perf_counter()
                result = Pipeline(mapping, RunOptions()).run(CsvFile(edited, mapping))
                wall = time.perf_counter() - start
                updates.append(rows / wall)
                print(f"  third import ({changed:,} of the rows changed): {rows:,} rows in "
                      f"{wall:.1f} s = {rows / wall:,.0f} rows/s; "
                      f"{result.counts['updated']:,} updated (one by one through "
                      f"save_entry), {result.counts['unchanged']:,} unchanged")
    print(f"median: first import {statistics.median(firsts):,.0f} rows/s (target 5,000), "
          f"re-import {statistics.median(seconds):,.0f} rows/s, "
          f"with {changed:,} changed rows {statistics.median(updates):,.0f} rows/s; "
          f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
