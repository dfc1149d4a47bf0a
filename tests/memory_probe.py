"""Run by test_import_csv in a fresh process: import CSV files one after the other and
print the process's peak memory (ru_maxrss, KiB) after each, as JSON.

    python -m tests.memory_probe DATABASE_URL MAPPING FILE [FILE…]
"""

from __future__ import annotations

import json
import resource
import sys


def main() -> None:
    url, mapping_path, *files = sys.argv[1:]
    from importers.csv_reader import read_csv
    from importers.mapping import load_csv_mapping
    from importers.pipeline import Pipeline, RunOptions
    from tests.conftest import make_app

    app = make_app(url)
    peaks, counts = [], []
    with app.app_context():
        mapping = load_csv_mapping(mapping_path)
        # Warm up (imports, caches, the first connection) before the first measure.
        Pipeline(mapping, RunOptions(dry_run=True)).run(read_csv(files[0], mapping))
        peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        for path in files:
            result = Pipeline(mapping, RunOptions()).run(read_csv(path, mapping))
            counts.append(result.counts)
            peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    print(json.dumps({"peaks_kib": peaks, "counts": counts}))


if __name__ == "__main__":
    main()
