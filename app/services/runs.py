"""The ledger of a run that writes in bulk from outside: an import, a dump restore, a
sync pull. It counts, keeps the report, and records the run (`ImportRun`) in one place,
so that every run is told and recorded the same way.

A report line is a `Problem`; adding one counts it by its kind (a rejected row, a
warning, a twin flagged…). A conflict counts once per entry, however many of its fields
it names. When a run fails, the session is rolled back: what was written since the last
commit is gone, so the counts of writes go back to that point (`checkpoint`), while what
the run found (rejections, warnings, conflicts…) stays in its report and its counts:
the failed run says what it saw. `summary`, `lines` and `write_report` tell a run to
people: on the terminal and in a JSON or CSV file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from ..extensions import db
from ..formats.csv_cells import escape_cell
from ..models import ImportRun

ProblemKind = Literal["rejected", "warning", "conflict", "duplicate", "missing", "closed",
                      "skipped", "linked"]
# The count each kind of report line adds to (a conflict: see Ledger.conflict).
KIND_COUNTS = {"rejected": "rejected", "warning": "warnings", "duplicate": "duplicates",
               "missing": "missing", "closed": "closed", "skipped": "skipped",
               "linked": "linked"}
# Counts of what a run wrote: undone when it fails.
WRITTEN = ("created", "updated", "deleted", "closed")
# The counts an ImportRun has a column for.
RECORDED = ("created", "updated", "unchanged", "duplicates", "conflicts", "rejected",
            "skipped", "missing", "closed", "warnings")
REPORT_COLUMNS = ("kind", "row", "external_id", "field", "reason", "entry")


@dataclass
class Problem:
    """One line of a run's report: a row refused, a field dropped, a conflict, a twin…"""

    kind: ProblemKind
    reason: str
    row: int | None = None
    external_id: str | None = None
    field: str | None = None
    entry: str | None = None
    details: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class Ledger:
    """Counts (those named by `counts`, in that order: what the run prints), report lines,
    and the run's record."""

    def __init__(self, origin: str, counts: Sequence[str], *, location: str | None = None,
                 mapping: str | None = None, author_label: str | None = None,
                 user_id: int | None = None, dry_run: bool = False) -> None:
        self.origin, self.location, self.mapping = origin, location, mapping
        self.author_label, self.user_id, self.dry_run = author_label, user_id, dry_run
        self.counts: dict[str, int] = dict.fromkeys(counts, 0)
        self.report: list[dict[str, Any]] = []
        self.started_at = datetime.now(UTC)
        self._kept = dict.fromkeys(WRITTEN, 0)

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def note(self, problem: Problem) -> None:
        """Add a report line, counted by its kind (a conflict is counted by `conflict`)."""
        self.report.append(problem.as_dict())
        key = KIND_COUNTS.get(problem.kind)
        if key:
            self.count(key)

    def conflict(self, problems: Iterable[Problem]) -> None:
        """One entry's conflict, a line per field it names: counted once."""
        for problem in problems:
            self.report.append(problem.as_dict())
        self.count("conflicts")

    def checkpoint(self) -> None:
        """What was written so far is committed: a failure later does not undo it."""
        self._kept = {key: self.counts.get(key, 0) for key in WRITTEN}

    def finish(self) -> ImportRun:
        """Record the run as done and commit; a dry run's writes are rolled back first."""
        if self.dry_run:
            db.session.rollback()
        run = self._record("dry run" if self.dry_run else "finished")
        db.session.commit()
        return run

    def fail(self, error: str, status: str = "failed") -> ImportRun:
        """Roll back what was not committed, record the run with its error, and commit."""
        db.session.rollback()
        for key, kept in self._kept.items():
            if key in self.counts:
                self.counts[key] = kept
        run = self._record(status, error)
        db.session.commit()
        return run

    def _record(self, status: str, error: str | None = None) -> ImportRun:
        run = ImportRun(
            origin=self.origin, location=self.location, mapping=self.mapping,
            author_label=self.author_label, user_id=self.user_id, dry_run=self.dry_run,
            started_at=self.started_at, finished_at=datetime.now(UTC), status=status,
            error=error, report=self.report,
            **{key: self.counts.get(key, 0) for key in RECORDED})
        db.session.add(run)
        db.session.flush()
        return run


@dataclass
class RunResult:
    """What a finished run gives its caller: the record, its counts and report lines."""

    run: ImportRun
    counts: dict[str, int]
    report: list[dict[str, Any]]
    tags_created: list[str] = field(default_factory=list)


class OnLedger:
    """A run that counts and reports through `self.ledger` (import, restore, sync pull)."""

    ledger: Ledger
    tags_created: list[str]

    def result(self, run: ImportRun) -> RunResult:
        return RunResult(run, dict(self.counts), self.report, self.tags_created)

    @property
    def counts(self) -> dict[str, int]:
        return self.ledger.counts

    @property
    def report(self) -> list[dict[str, Any]]:
        return self.ledger.report

    def note(self, problem: Problem) -> None:
        self.ledger.note(problem)


# -- a run told to people ----------------------------------------------------------------------

def summary(counts: Mapping[str, int]) -> str:
    """The counts on one line, in the run's order."""
    return ", ".join(f"{key}: {value}" for key, value in counts.items())


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
