"""A record of each run of a scheduled job (`atlas jobs run NAME`), refused ones included.

A run is written "running" when it starts and gets its outcome when it ends, so the
admin page shows one under way; a process killed in between leaves "running", which
the next run of the job (holding its lock, so the only one) marks "failed".
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .import_run import ImportRun
from .vocab import sql_in

JOB_OUTCOMES = ("running", "succeeded", "failed", "skipped")


class JobRun(db.Model):
    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(20), default="running",
                                         server_default="running")
    # What the run did or why it failed or was skipped, in one or a few lines.
    message: Mapped[str | None] = mapped_column(Text)
    # The import or sync pull the job made (its counts and report), when it made one.
    import_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("import_runs.id", ondelete="SET NULL"))
    import_run: Mapped[ImportRun | None] = relationship()

    __table_args__ = (
        CheckConstraint(sql_in("outcome", JOB_OUTCOMES), name="outcome"),
        Index("ix_job_runs_name_started", "name", "started_at"),
    )
