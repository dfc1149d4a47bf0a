"""CSV import speed: rows per second into PostGIS, duplicate detection on.

    .venv/bin/python bench/bench_csv.py [ROWS]      (default 50,000)

Writes an invented CSV (semicolons, decimal commas, one place every ~100 m over the
Lille area, so no row is a twin of another), imports it into a throwaway database
(migrated, with the demo data), then imports it again (every row unchanged), and
prints the rates. Target: 5,000 rows/s for the first import.
"""

from __future__ import annotations

import csv
import math
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, bench_app

HEADER = ["Identifiant", "Type", "Nom", "Adresse", "Code postal", "Ville", "Latitude",
          "Longitude", "Site", "Étiquettes"]
MAPPING = ROOT / "tests" / "data" / "mappings" / "tiers-lieux-test.toml"


def write_rows(path: Path, count: int) -> None:
    side = math.isqrt(count) + 1
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADER)
        for i in range(count):
            lat = 50.50 + (i // side) * 0.0009
            lon = 2.80 + (i % side) * 0.0014
            writer.writerow([f"b-{i}", "Tiers-lieu", f"Lieu du banc {i}", f"{i} rue du Test",
                             "59000", "Lille", f"{lat:.6f}".replace(".", ","),
                             f"{lon:.6f}".replace(".", ","), f"https://lieu-{i}.example.org",
                             "coworking"])


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    from importers.csv_reader import read_csv
    from importers.mapping import load_csv_mapping
    from importers.pipeline import Pipeline, RunOptions

    with tempfile.TemporaryDirectory() as tmp, bench_app("bench_csv"):
        path = Path(tmp) / "bench.csv"
        write_rows(path, rows)
        mapping = load_csv_mapping(MAPPING)
        for label in ("first import (all created)", "second import (all unchanged)"):
            start = time.perf_counter()
            result = Pipeline(mapping, RunOptions()).run(read_csv(path, mapping))
            seconds = time.perf_counter() - start
            print(f"{label}: {rows} rows in {seconds:.1f} s = {rows / seconds:,.0f} rows/s "
                  f"(target 5,000) — {result.counts}")


if __name__ == "__main__":
    main()
