"""A run's report for people: a summary, the problems, and a JSON or CSV file."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from app.formats.csv_cells import escape_cell

REPORT_COLUMNS = ("kind", "row", "external_id", "field", "reason", "entry")
SUMMARY_ORDER = ("created", "updated", "unchanged", "conflicts", "duplicates", "rejected",
                 "skipped", "missing", "closed", "warnings")


def summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{key}: {counts.get(key, 0)}" for key in SUMMARY_ORDER)


def lines(report: Iterable[dict[str, Any]], limit: int = 50) -> list[str]:
    """Human lines for the terminal, at most `limit` of them."""
    out = []
    for count, item in enumerate(report):
        if count == limit:
            out.append("… (see --report FILE for the rest)")
            break
        where = f"row {item['row']}" if "row" in item else item.get("external_id", "")
        column = f" [{item['field']}]" if "field" in item else ""
        entry = f" → {item['entry']}" if "entry" in item else ""
        out.append(f"{item['kind']:<9} {where}{column}: {item['reason']}{entry}")
    return out


def write_report(path: Path | str, counts: dict[str, int], report: list[dict[str, Any]],
                 run_id: int | None = None, error: str | None = None) -> Path:
    """JSON ({run, counts, error, items}) or CSV (one line per item; a failed run's
    error as a last line of kind "error"), by the file's suffix."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=REPORT_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for item in report:
                writer.writerow({k: escape_cell(v) if isinstance(v, str) else v
                                 for k, v in item.items()})
            if error:
                writer.writerow({"kind": "error", "reason": escape_cell(error)})
    else:
        path.write_text(json.dumps({"run": run_id, "counts": counts, "error": error,
                                    "items": report},
                                   ensure_ascii=False, indent=1, default=str),
                        encoding="utf-8")
    return path
