"""The administrators' view of the scheduled jobs: each job of the jobs file with its last
runs and their outcomes (the runs themselves are started by the timers, `atlas jobs run`)."""

from __future__ import annotations

from flask import render_template
from flask_babel import lazy_gettext as _l

from ..auth.roles import role_required
from ..jobs.config import JobConfigError, jobs_file, load_jobs
from ..jobs.history import last_runs
from ..jobs.lock import is_running
from . import bp

RUNS_SHOWN = 10
OUTCOME_LABELS = {"running": _l("Running"), "succeeded": _l("Succeeded"),
                  "failed": _l("Failed"), "skipped": _l("Skipped (already running)"),
                  "interrupted": _l("Interrupted")}


@bp.get("/editor/jobs")
@role_required("admin")
def jobs() -> str:
    problem = None
    try:
        configured = load_jobs()
    except JobConfigError as exc:  # shown to the admin; the timers' runs say it too
        configured, problem = {}, str(exc)
    runs = last_runs(list(configured), RUNS_SHOWN)
    # A run still "running" whose lock nobody holds was cut short (its process died).
    live = {name for name, job_runs in runs.items()
            if job_runs and job_runs[0].outcome == "running" and is_running(name)}
    return render_template("editor/jobs.html", jobs=sorted(configured.values(),
                                                            key=lambda j: j.name),
                           runs=runs, live=live, problem=problem, jobs_file=jobs_file(),
                           outcome_labels=OUTCOME_LABELS)
