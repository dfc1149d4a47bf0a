"""deploy/atlas.env.example names every setting the code reads, so an operator sees them all."""

from __future__ import annotations

import re

from app.config import PROJECT_ROOT


def test_the_environment_template_lists_every_setting():
    read = set()
    for folder in ("app", "importers"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            read |= set(re.findall(r"\bATLAS_[A-Z0-9_]+\b", path.read_text()))
    template = (PROJECT_ROOT / "deploy" / "atlas.env.example").read_text()
    listed = set(re.findall(r"^#?(ATLAS_[A-Z0-9_]+|DATABASE_URL|SECRET_KEY)=", template,
                            re.MULTILINE))
    missing = sorted((read | {"DATABASE_URL", "SECRET_KEY"}) - listed)
    assert not missing, f"not in deploy/atlas.env.example: {missing}"


def test_each_shipped_timer_runs_a_job_of_the_example_jobs_file():
    """atlas-job@NAME.timer starts `atlas jobs run NAME`: NAME must be a job of
    deploy/jobs.toml.example (which must itself load), or a built-in one."""
    from app.jobs.config import load_jobs

    deploy = PROJECT_ROOT / "deploy"
    jobs = load_jobs(deploy / "jobs.toml.example")
    assert {job.kind for job in jobs.values()} == {
        "backup", "digest", "publish-exports", "sync-pull", "refresh-source",
        "deliver-webhooks", "sources", "map-counts"}
    timers = sorted(deploy.glob("atlas-job@*.timer"))
    assert timers
    for timer in timers:
        name = timer.name.removeprefix("atlas-job@").removesuffix(".timer")
        assert name in jobs, f"{timer.name}: no job {name!r} in deploy/jobs.toml.example"
    service = (deploy / "atlas-job@.service").read_text()
    assert re.search(r"^ExecStart=\S+/atlas jobs run %i$", service, re.MULTILINE)
    # A run refused because another is under way (exit 75) is not a failed unit.
    assert re.search(r"^SuccessExitStatus=75$", service, re.MULTILINE)
