"""Publish the exports as files in a public folder (served by nginx, fetched by mirrors).

Each file is written to a temporary name in the same folder, flushed to disk, made
readable by all (0644, whatever the umask), then renamed over the old one: a reader
sees the old file or the new one, whole, never a half-written one, and a failed
export leaves the old file in place and no temporary behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from flask import current_app

from ..exports import FORMATS, ExportJob


class PublishError(RuntimeError):
    """The exports cannot be published; the message says why."""


PUBLIC_MODE = 0o644  # read by the web server, whatever the service's umask


def write_atomically(path: Path, chunks: Iterable[bytes]) -> None:
    """`chunks` into `path`, replacing it in one rename."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, PUBLIC_MODE)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def publish(folder: Path, formats: list[str], base_url: str | None = None) -> list[str]:
    """Every format in `formats` as atlas-<path> in `folder`; one line per file written.

    Links and JSON-LD ids in the files use `base_url`, else ATLAS_BASE_URL: a file made
    outside a request has no address of its own, and a wrong one would be published."""
    base_url = base_url or current_app.config.get("BASE_URL")
    if not base_url:
        raise PublishError("the public address is unknown: set base_url in the job or "
                           "ATLAS_BASE_URL")
    if not folder.is_dir():
        folder.mkdir(parents=True)
        folder.chmod(0o755)  # the web server reads it, whatever the service's umask
    lines = []
    for name in formats:
        export = FORMATS[name]
        job = ExportJob(base_url=base_url)  # every public entry
        write_atomically(folder / export.filename, export.write(job))
        line = f"{export.filename}: {job.written} entries"
        if export.refuses:
            line += f", {job.refused} refused"
        lines.append(line)
    return lines


# Beside each backup, the public data as a data package: readable without PostgreSQL, and
# what `flask import dump` restores into any instance.
PACKAGE_SUFFIX = ".datapackage.zip"


def write_backup_package(dump: Path) -> Path:
    """The data package beside `dump` (same name, PACKAGE_SUFFIX), as private as the dump."""
    path = dump.with_name(dump.stem + PACKAGE_SUFFIX)
    base_url = current_app.config.get("BASE_URL") or "http://localhost"
    write_atomically(path, FORMATS["datapackage"].write(ExportJob(base_url=base_url)))
    path.chmod(0o600)
    return path
