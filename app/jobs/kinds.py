"""What each kind of job does, through the same code as its command (`flask sync pull`,
`flask import osm|csv`, `flask export`, `flask backup create`, `flask mail digest`,
`flask webhooks deliver`; `map-counts` has no command of its own).

Each returns a `Done` (what it did, in a line or a few, and the ImportRun it made) or
raises `JobFailed` with why, and the ImportRun recording the failure when there is one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..services.runs import summary
from .config import Job


@dataclass
class Done:
    message: str
    import_run_id: int | None = None


class JobFailed(RuntimeError):
    def __init__(self, message: str, import_run_id: int | None = None) -> None:
        super().__init__(message)
        self.import_run_id = import_run_id


def sync_pull(job: Job) -> Done:
    from ..sync.client import Remote
    from ..sync.pull import Puller, SyncFailed
    from ..sync.state import check_name, default_name

    url = job["url"].rstrip("/")
    try:
        name = check_name(job["name"] or default_name(url))
    except ValueError as exc:
        raise JobFailed(f"name: {exc}") from None
    remote = Remote(url, retries=job["retries"], timeout=job["timeout"])
    try:
        result = Puller(remote, name, licence=job["licence"], page_size=job["page_size"]).run()
    except SyncFailed as exc:
        raise JobFailed(f"pull from {url} failed: {exc}", exc.run.id) from None
    except ValueError as exc:  # the URL is known here under another name
        raise JobFailed(str(exc)) from None
    finally:
        remote.close()
    return Done(f"pulled from {url} as remote:{name}: {summary(result.counts)}", result.run.id)


def refresh_source(job: Job) -> Done:
    from importers.csv_reader import CsvFileError
    from importers.geo import Territory
    from importers.mapping import (
        DEFAULT_OSM_MAPPING,
        MappingError,
        load_csv_mapping,
        load_osm_mapping,
    )
    from importers.osm_overpass import (
        DEFAULT_ENDPOINT,
        OverpassError,
        build_query,
        default_area,
        fetch,
        read_overpass,
    )
    from importers.pipeline import ImportFailed, Pipeline, RunOptions
    from importers.sources import CsvFile

    def run(mapping: Any, items: Any, location: str) -> Done:
        options = RunOptions(location=location, full=job["full"],
                             close_missing=job["close_missing"])
        try:
            result = Pipeline(mapping, options).run(items)
        except ImportFailed as exc:
            cause = exc.__cause__
            message = str(cause) if isinstance(cause, CsvFileError) else str(exc)
            raise JobFailed(f"import of {location} failed, nothing written: "
                            f"{' '.join(message.split())}", exc.run.id) from None
        return Done(f"{mapping.origin} from {location}: {summary(result.counts)}",
                    result.run.id)

    try:
        if job["csv"] is not None:
            mapping = load_csv_mapping(Path(job["mapping"]))
            with _local_file(job["csv"], job["timeout"]) as path:
                return run(mapping, CsvFile(path, mapping, job["encoding"]), job["csv"])
        mapping = load_osm_mapping(Path(job["mapping"]) if job["mapping"]
                                   else DEFAULT_OSM_MAPPING)
        area = (Territory.parse(job["area"]) if job["area"]
                else mapping.territory or default_area())
        url = job["overpass"] if isinstance(job["overpass"], str) else (
            os.environ.get("ATLAS_OVERPASS_URL") or DEFAULT_ENDPOINT)
        answer = fetch(build_query(mapping, area, job["timeout"]), url,
                       timeout=job["timeout"], retries=job["retries"])
        return run(mapping, list(read_overpass(answer, mapping)), url)
    except (MappingError, OverpassError, OSError, ValueError) as exc:
        raise JobFailed(str(exc)) from None


@contextmanager
def _local_file(where: str, timeout: float) -> Iterator[Path]:
    """A CSV source as a local path: a path as it is, a URL downloaded to a temporary file
    (removed afterwards)."""
    if not where.startswith(("http://", "https://")):
        path = Path(where)
        if not path.is_file():
            raise JobFailed(f"csv: no file {path}")
        yield path
        return
    import requests  # here, not at every start of the app (test_modes)

    with tempfile.TemporaryDirectory(prefix="atlas-job-") as folder:
        path = Path(folder) / "source.csv"
        try:
            with requests.get(where, stream=True, timeout=(10, timeout),
                              headers={"User-Agent": "atlas-des-communs jobs"}) as answer:
                if answer.status_code != 200:
                    raise JobFailed(f"csv: {where} answered HTTP {answer.status_code}")
                with path.open("wb") as handle:
                    for chunk in answer.iter_content(1 << 16):
                        handle.write(chunk)
        except requests.RequestException as exc:
            raise JobFailed(f"csv: {where} could not be read: {exc}") from None
        yield path


def publish_exports(job: Job) -> Done:
    from .publish import PublishError, publish

    try:
        written = publish(Path(job["folder"]), job["formats"], job["base_url"])
    except (PublishError, OSError) as exc:
        raise JobFailed(str(exc)) from None
    return Done("; ".join(written))


def backup(job: Job) -> Done:
    from ..backup import BackupError, app_target, backup_name, create_backup, default_output
    from ..extensions import db
    from .publish import write_backup_package
    from .rotation import rotate

    db.session.remove()  # pg_dump sees what is committed; nothing of ours is pending
    target = app_target()
    try:
        output = (Path(job["folder"]) / backup_name(target) if job["folder"]
                  else default_output(target))
        written = create_backup(output, target)
    except BackupError as exc:
        raise JobFailed(exc.message) from None
    package = write_backup_package(written)
    removed = rotate(written.parent, target.url.database or "", job["keep"])
    return Done(f"backup {written} ({written.stat().st_size} bytes) and its data package "
                f"{package.name} ({package.stat().st_size} bytes); {job['keep']} kept, "
                f"{len(removed)} removed")




def digest(job: Job) -> Done:
    from ..mail.messages import MailConfigError, editors, send_digest
    from ..services.proposals import pending_proposals

    pending = pending_proposals()
    if not pending:
        return Done("nothing pending: no digest sent")
    try:
        deliveries = send_digest(pending, editors())
    except MailConfigError as exc:
        raise JobFailed(str(exc)) from None
    said = f"{len(pending)} pending, digest to {len(deliveries)} editor(s)"
    failed = [d for d in deliveries if d.status == "failed"]
    if failed:
        raise JobFailed(f"{said}; not sent to " + ", ".join(
            f"{d.recipient} ({d.detail})" for d in failed))
    logged = sum(1 for d in deliveries if d.status == "logged")
    return Done(said + (f" ({logged} written to the log: no mail server)" if logged else ""))


def deliver_webhooks(job: Job) -> Done:
    from ..webhooks.job import run

    return Done(run(limit=job["batch"]))


def sources(job: Job) -> Done:
    """Every registered source that is due (app.sources.run.run_due)."""
    from ..sources.run import run_due

    done = run_due()
    if not done:
        return Done("no source is due")
    said = "; ".join(f"{name}: {what}" for name, what, _run in done)
    last_run = next((run for _n, _w, run in reversed(done) if run), None)
    if any(what.startswith("failed") for _n, what, _r in done):
        raise JobFailed(said, last_run)
    return Done(said, last_run)


def map_counts(job: Job) -> Done:
    """Fold every change of the map's count and tag pyramids in, and drop the
    filtered map's passes of past data states: readers fold the changes only past
    pyramid.PILE (5,000), paying for it in their answer; a run every minute keeps the
    pile, and the time each read spends adding it, small under steady writes."""
    from ..extensions import db
    from ..query import filter_pass, pyramid
    from ..query.state import data_state

    folded = pyramid.compact_all()
    state = data_state().token
    db.session.remove()
    with db.engine.connect() as conn:
        dropped = filter_pass.prune(conn, state)
    return Done(f"{folded} map count changes folded in; {dropped} filtered map pass(es) "
                "dropped")


RUNNERS: dict[str, Callable[[Job], Done]] = {
    "sync-pull": sync_pull,
    "refresh-source": refresh_source,
    "publish-exports": publish_exports,
    "backup": backup,
    "digest": digest,
    "deliver-webhooks": deliver_webhooks,
    "sources": sources,
    "map-counts": map_counts,
}
