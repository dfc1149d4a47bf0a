"""Run by test_import_csv and `bench/bench_csv.py --memory` in a fresh process: import CSV
files one after the other and print the process's peak memory (ru_maxrss, KiB) after
each, and that of its reading processes (forks of it, as it runs one thread:
RUSAGE_CHILDREN), as JSON.

    python -m tests.memory_probe DATABASE_URL MAPPING FILE [FILE…]
"""

from __future__ import annotations

import csv
import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def memory_probe_files(folder: Path, *counts: int) -> list[str]:
    """One invented CSV file per count (tests.support.importer.grid_rows), in `folder`."""
    from tests.support.importer import HEADER, grid_rows

    files = []
    for count, prefix in zip(counts, "sbcdefgh", strict=False):
        path = folder / f"{count}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter=";")
            writer.writerow(HEADER)
            writer.writerows(grid_rows(count, prefix))
        files.append(str(path))
    return files


def run_memory_probe(url: str, files: list[str]) -> dict[str, Any]:
    """The peaks and counts the probe prints, from a fresh process on `url`."""
    from tests.support.importer import MAPPING

    probe = subprocess.run(
        [sys.executable, "-m", "tests.memory_probe", url, str(MAPPING), *files],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert probe.returncode == 0, probe.stderr
    return json.loads(probe.stdout.strip().splitlines()[-1])


def main() -> None:
    url, mapping_path, *files = sys.argv[1:]
    from importers.mapping import load_csv_mapping
    from importers.pipeline import Pipeline, RunOptions
    from importers.sources import CsvFile
    from tests.conftest import make_app

    app = make_app(url)
    peaks, child_peaks, counts = [], [], []

    def measure() -> None:
        peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        child_peaks.append(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)

    with app.app_context():
        mapping = load_csv_mapping(mapping_path)
        # Warm up (imports, caches, the first connection) before the first measure.
        Pipeline(mapping, RunOptions(dry_run=True, reader="process")).run(
            CsvFile(files[0], mapping))
        measure()
        for path in files:
            result = Pipeline(mapping, RunOptions(reader="process")).run(
                CsvFile(path, mapping))
            counts.append(result.counts)
            measure()
    print(json.dumps({"peaks_kib": peaks, "child_peaks_kib": child_peaks,
                      "counts": counts}))


if __name__ == "__main__":
    main()
