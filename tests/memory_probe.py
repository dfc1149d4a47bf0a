"""Run by test_import_csv in a fresh process: import CSV files one after the other and
print the process's peak memory (ru_maxrss, KiB) after each, and that of its reading
processes (forks of it, as it runs one thread: RUSAGE_CHILDREN), as JSON.

    python -m tests.memory_probe DATABASE_URL MAPPING FILE [FILE…]
"""

from __future__ import annotations

import json
import resource
import sys


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
