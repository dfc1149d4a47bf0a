"""A run of a job: its lock, its record in job_runs, its outcome and exit code.

The record is written "running" once the lock is held, and finished with the outcome
whatever happens in the job (its own failures roll back only its own transaction). A
run refused because another holds the lock is recorded "skipped" and exits with
EXIT_SKIPPED (75, EX_TEMPFAIL: try again later), which the systemd unit does not
count as a failure; a failed run exits 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update

from ..extensions import db
from ..models import JobRun
from .config import Job
from .kinds import RUNNERS, Done, JobFailed
from .lock import job_lock

EXIT_FAILED = 1
EXIT_SKIPPED = 75
INTERRUPTED = "interrupted: the process ended before recording an outcome"


@dataclass
class JobResult:
    run: JobRun

    @property
    def exit_code(self) -> int:
        return {"succeeded": 0, "skipped": EXIT_SKIPPED}.get(self.run.outcome, EXIT_FAILED)


def run_job(job: Job) -> JobResult:
    """Run `job` unless another run of it holds its lock; record the run either way."""
    with job_lock(job.name) as got:
        if not got:
            return JobResult(_skipped(job))
        _close_interrupted(job.name)
        run = JobRun(name=job.name, kind=job.kind, started_at=datetime.now(UTC))
        db.session.add(run)
        db.session.commit()
        run_id = run.id
        try:
            done = RUNNERS[job.kind](job)
            outcome = "succeeded"
        except JobFailed as exc:
            done, outcome = Done(str(exc), exc.import_run_id), "failed"
        except Exception as exc:  # any other error: recorded with its type
            done, outcome = Done(f"{type(exc).__name__}: {exc}"), "failed"
        except BaseException as exc:  # stopped (SIGTERM from systemd, Ctrl-C): say so
            _finish(run_id, "failed", Done(f"interrupted: {exc or type(exc).__name__}"))
            raise
        return JobResult(_finish(run_id, outcome, done))


def _finish(run_id: int, outcome: str, done: Done) -> JobRun:
    # The job may have left its session rolled back or removed: start afresh.
    db.session.rollback()
    run = db.session.get(JobRun, run_id)
    run.outcome, run.message = outcome, done.message
    run.import_run_id, run.finished_at = done.import_run_id, datetime.now(UTC)
    db.session.commit()
    return run


def _skipped(job: Job) -> JobRun:
    running = db.session.scalar(
        select(JobRun).where(JobRun.name == job.name, JobRun.outcome == "running")
        .order_by(JobRun.started_at.desc()).limit(1))
    since = f" (since {running.started_at:%Y-%m-%d %H:%M:%S %Z})" if running else ""
    now = datetime.now(UTC)
    run = JobRun(name=job.name, kind=job.kind, started_at=now, finished_at=now,
                 outcome="skipped",
                 message=f"{job.name} is already running{since}: this run was skipped")
    db.session.add(run)
    db.session.commit()
    return run


def _close_interrupted(name: str) -> None:
    """Runs left "running" by a process that died: we hold the lock, so none is live."""
    db.session.execute(
        update(JobRun).where(JobRun.name == name, JobRun.outcome == "running")
        .values(outcome="failed", message=INTERRUPTED, finished_at=datetime.now(UTC)))
    db.session.commit()
