"""`atlas jobs run NAME` (what the timers run) and `atlas jobs list`."""

from __future__ import annotations

import signal
import sys

import click
from flask.cli import AppGroup

jobs_cli = AppGroup("jobs", help="Scheduled jobs of the jobs file (ATLAS_JOBS_FILE).")


def _jobs():
    from .config import JobConfigError, load_jobs

    try:
        return load_jobs()
    except JobConfigError as exc:
        raise click.UsageError(str(exc)) from None


class Stopped(SystemExit):
    """SIGTERM, as a SystemExit: the run records it, then the process exits 128 + 15."""

    def __str__(self) -> str:
        return "stopped by SIGTERM"


def _stopped(signum: int, _frame: object) -> None:
    raise Stopped(128 + signum)


@jobs_cli.command("run")
@click.argument("name")
def run(name: str) -> None:
    """Run the job NAME once. Exit 0: succeeded; 1: failed; 75: skipped, another run of
    it was under way."""
    from .runner import run_job

    jobs = _jobs()
    if name not in jobs:
        raise click.BadParameter(f"no job {name!r}; the jobs are: {', '.join(sorted(jobs))}",
                                 param_hint="NAME")
    signal.signal(signal.SIGTERM, _stopped)  # systemd's stop: recorded, then exit 143
    result = run_job(jobs[name])
    record = result.run
    line = f"{name} ({record.kind}) {record.outcome}: {record.message}"
    if record.import_run_id:
        line += f" [import run {record.import_run_id}]"
    click.echo(line, file=sys.stdout if record.outcome == "succeeded" else sys.stderr)
    if result.exit_code:
        sys.exit(result.exit_code)


@jobs_cli.command("list")
def list_jobs() -> None:
    """Each job: name, kind, and its last run (when, outcome)."""
    from .history import last_runs

    jobs = _jobs()
    last = last_runs(list(jobs), 1)
    for name, job in sorted(jobs.items()):
        runs = last.get(name)
        said = (f"{runs[0].started_at:%Y-%m-%d %H:%M} {runs[0].outcome}" if runs
                else "never run")
        click.echo(f"{name}\t{job.kind}\t{said}")
