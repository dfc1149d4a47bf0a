"""Scheduled jobs: `atlas jobs run NAME`, run by systemd timers (deploy/atlas-job@.service).

A job is declared in the jobs file (ATLAS_JOBS_FILE, deploy/jobs.toml.example): a
name, a kind (sync-pull, refresh-source, publish-exports, backup, digest) and the
kind's settings (config.py). A run takes the job's PostgreSQL advisory lock, so two
runs of one job never overlap (lock.py), and is recorded in job_runs with its outcome
(runner.py); the admins see them on /editor/jobs.
"""

from .config import Job, JobConfigError, load_jobs
from .runner import EXIT_FAILED, EXIT_SKIPPED, JobResult, run_job

__all__ = ["EXIT_FAILED", "EXIT_SKIPPED", "Job", "JobConfigError", "JobResult", "load_jobs",
           "run_job"]
