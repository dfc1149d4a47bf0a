"""The last runs of each job, for `atlas jobs list` and the admins' page."""

from __future__ import annotations

from sqlalchemy import func, select

from ..extensions import db
from ..models import JobRun


def last_runs(names: list[str], limit: int = 10) -> dict[str, list[JobRun]]:
    """The `limit` newest runs of each job named, newest first."""
    ranked = select(JobRun.id, func.row_number().over(
        partition_by=JobRun.name, order_by=(JobRun.started_at.desc(), JobRun.id.desc())
    ).label("rank")).where(JobRun.name.in_(names)).subquery()
    runs = db.session.scalars(
        select(JobRun).join(ranked, ranked.c.id == JobRun.id).where(ranked.c.rank <= limit)
        .order_by(JobRun.name, JobRun.started_at.desc(), JobRun.id.desc()))
    out: dict[str, list[JobRun]] = {}
    for run in runs:
        out.setdefault(run.name, []).append(run)
    return out
