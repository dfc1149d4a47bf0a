"""Test and run a registered source: a test reads a sample and says what it found
(nothing written); a run goes through the one import pipeline (an Atlas: the sync
pull), is recorded as an ImportRun with its report, and stamps the source."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..extensions import db
from ..models import RegisteredSource, User
from ..services.runs import Problem, RunResult, summary
from .credentials import CredentialError
from .read import FetchError, reading
from .registry import all_sources


class SourceRunFailed(RuntimeError):
    """A run or a test that could not be done; `run_id`: the ImportRun recording it."""

    def __init__(self, message: str, run_id: int | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id


@dataclass
class TestReport:
    records: int
    refused: int
    names: list[str]
    message: str


def sample_source(source: RegisteredSource) -> TestReport:
    """Fetch a sample and report it; the report is kept as the source's last test."""
    from importers.prepare import prepare_batch, read_batches
    from importers.records import Candidate

    if source.kind == "atlas":
        return _test_atlas(source)
    try:
        with reading(source, sample=True) as read:
            records = refused = 0
            names: list[str] = []
            reasons: list[str] = []
            for batch, _advanced in read_batches(read.items, 200):
                prepared = prepare_batch(batch, 0)
                records += prepared.size
                for item in prepared.candidates:
                    if isinstance(item, Candidate) and len(names) < 5:
                        names.append(item.data.get("name") or item.external_id)
                refused += sum(1 for p in prepared.problems if p.kind == "rejected")
                reasons += [f"{p.external_id or p.row}: {p.reason}"
                            for p in prepared.problems if p.kind == "rejected"][:3]
                if records >= 200:
                    break
    except (FetchError, CredentialError, OSError, ValueError) as exc:
        report = TestReport(0, 0, [], f"failed: {exc}")
    else:
        message = f"{records} records read, {refused} refused"
        if names:
            message += "; e.g. " + ", ".join(names)
        if reasons:
            message += "; refused: " + "; ".join(reasons[:3])
        report = TestReport(records, refused, names, message)
    source.last_test = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {report.message}"[:2000]
    db.session.commit()
    return report


def _test_atlas(source: RegisteredSource) -> TestReport:
    from ..sync.client import Remote

    try:
        remote = Remote(source.url, retries=1, timeout=20)
        try:
            page = remote.get_json("/api/v1/changes", limit=5)
        finally:
            remote.close()
        changes = page.get("changes") or []
        names = [c.get("entry", {}).get("name", "") for c in changes if c.get("entry")][:5]
        report = TestReport(len(changes), 0, names,
                            f"{len(changes)} changes read; e.g. {', '.join(names)}")
    except Exception as exc:
        report = TestReport(0, 0, [], f"failed: {exc}")
    source.last_test = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {report.message}"[:2000]
    db.session.commit()
    return report


def run_source(source: RegisteredSource, *, user: User | None = None,
               dry_run: bool = False) -> RunResult:
    """Read the source and write it through the pipeline; SourceRunFailed with the
    failing run's id when it fails (nothing written)."""
    result = (_run_atlas(source) if source.kind == "atlas"
              else _run_records(source, user, dry_run))
    if not dry_run:
        source.last_run_at = datetime.now(UTC)
        source.last_run_id = result.run.id
        db.session.commit()
    return result


def _run_records(source: RegisteredSource, user: User | None, dry_run: bool) -> RunResult:
    from importers.pipeline import ImportFailed, Pipeline, RunOptions

    try:
        with reading(source) as read:
            options = RunOptions(location=read.location, user=user, dry_run=dry_run,
                                 link_twins=source.options.get("link_twins", True))
            return Pipeline(read.mapping, options).run(read.items)
    except ImportFailed as exc:
        raise SourceRunFailed(f"{source.name}: {exc}", exc.run.id) from None
    except (FetchError, CredentialError, OSError, ValueError) as exc:
        run = _failed(source, str(exc))
        raise SourceRunFailed(f"{source.name}: {exc}", run) from None


def _failed(source: RegisteredSource, message: str) -> int:
    """A run that could not start (the peer did not answer…), recorded all the same."""
    from ..services.runs import Ledger

    db.session.rollback()
    ledger = Ledger(source.origin, ("created", "updated"), location=source.url,
                    author_label=f"source {source.name}")
    ledger.note(Problem("rejected", message))
    return ledger.fail(message).id


def _run_atlas(source: RegisteredSource) -> RunResult:
    from ..sync.client import Remote
    from ..sync.pull import Puller, SyncFailed
    from .credentials import reveal

    try:
        remote = Remote(source.url, token=reveal(source.credential))
    except CredentialError as exc:
        raise SourceRunFailed(f"{source.name}: {exc}", _failed(source, str(exc))) from None
    try:
        return Puller(remote, source.name, licence=source.licence).run()
    except SyncFailed as exc:
        raise SourceRunFailed(f"{source.name}: {exc}", exc.run.id) from None
    finally:
        remote.close()


def due_sources(now: datetime | None = None) -> list[RegisteredSource]:
    """Sources on a schedule, not paused, whose last run is older than their period."""
    now = now or datetime.now(UTC)
    return [s for s in all_sources()
            if s.schedule_hours and not s.paused
            and (s.last_run_at is None
                 or now - s.last_run_at >= timedelta(hours=s.schedule_hours))]


def run_due() -> list[tuple[str, str, int | None]]:
    """Run every due source; (name, what happened, import run id) for each."""
    done = []
    for source in due_sources():
        try:
            result = run_source(source)
            done.append((source.name, summary(result.counts), result.run.id))
        except SourceRunFailed as exc:
            done.append((source.name, f"failed: {exc}", exc.run_id))
    return done
