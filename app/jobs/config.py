"""The jobs file: each job's name, kind and settings, checked before anything runs.

```toml
[jobs.osm-lille]
kind = "refresh-source"
overpass = "https://overpass-api.de/api/interpreter"
```

A setting the kind does not know, a missing one or one of the wrong type is refused
with the job and the setting named: a typo must not silently fall back to a default.
Some jobs need no file and exist unless the file redefines them: `backup` (keeping
ATLAS_BACKUP_KEEP dumps, 14 by default), `digest`, `webhooks`, `sources` (every
registered source whose schedule says it is due, app.sources) and `map-counts` (the
map's counts kept tidy: app.jobs.kinds.map_counts).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
ANY = object()  # a required setting's "default"


class JobConfigError(ValueError):
    """The jobs file cannot be used; the message names the file, the job and the setting."""


@dataclass(frozen=True)
class Setting:
    types: tuple[type, ...]
    default: Any = ANY
    help: str = ""


# Each kind's settings: type(s) and default (ANY: required).
KINDS: dict[str, dict[str, Setting]] = {
    "sync-pull": {
        "url": Setting((str,), help="the other instance's base URL"),
        "name": Setting((str,), None, "its name here (remote:<name>)"),
        "licence": Setting((str,), None, "licence of its data"),
        "page_size": Setting((int,), 1000),
        "retries": Setting((int,), 5),
        "timeout": Setting((int, float), 30.0),
    },
    "refresh-source": {
        "overpass": Setting((str, bool), None, "an Overpass interpreter URL (true: "
                                               "ATLAS_OVERPASS_URL or the public one)"),
        "csv": Setting((str,), None, "a CSV file's URL or path"),
        "mapping": Setting((str,), None, "the mapping file (required with csv)"),
        "area": Setting((str,), None, "min_lon,min_lat,max_lon,max_lat"),
        "encoding": Setting((str,), None),
        "full": Setting((bool,), False),
        "close_missing": Setting((bool,), False),
        "timeout": Setting((int,), 180),
        "retries": Setting((int,), 3),
    },
    "publish-exports": {
        "folder": Setting((str,), help="the public folder the files are written to"),
        "formats": Setting((list,), None, "the formats (default: every one)"),
        "base_url": Setting((str,), None),
    },
    "backup": {
        "keep": Setting((int,), None, "how many backups to keep (default "
                                      "ATLAS_BACKUP_KEEP, 14)"),
        "folder": Setting((str,), None, "default: ATLAS_BACKUP_DIR"),
    },
    "digest": {},
    "deliver-webhooks": {
        "batch": Setting((int,), 200, "deliveries sent at most per run"),
    },
    "sources": {},
    "map-counts": {},
}


@dataclass(frozen=True)
class Job:
    name: str
    kind: str
    settings: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.settings[key]


def default_keep() -> int:
    """How many backups a backup job keeps unless it says: ATLAS_BACKUP_KEEP, else 14."""
    keep = os.environ.get("ATLAS_BACKUP_KEEP", "").strip() or "14"
    if not keep.isdigit() or int(keep) < 1:
        raise JobConfigError(f"ATLAS_BACKUP_KEEP must be a whole number from 1, got {keep!r}")
    return int(keep)


def built_in() -> dict[str, Job]:
    return {"backup": _checked("backup", {"kind": "backup"}, "built-in"),
            "digest": _checked("digest", {"kind": "digest"}, "built-in"),
            "webhooks": _checked("webhooks", {"kind": "deliver-webhooks"}, "built-in"),
            "sources": _checked("sources", {"kind": "sources"}, "built-in"),
            "map-counts": _checked("map-counts", {"kind": "map-counts"}, "built-in")}


def jobs_file() -> Path | None:
    configured = current_app.config.get("JOBS_FILE")
    return Path(configured) if configured else None


def load_jobs(path: Path | None = None) -> dict[str, Job]:
    """The built-in jobs and those of the jobs file (`path`, else ATLAS_JOBS_FILE)."""
    jobs = built_in()
    path = path or jobs_file()
    if path is None:
        return jobs
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise JobConfigError(f"{path}: cannot read the jobs file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise JobConfigError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - {"jobs"})
    if unknown:
        raise JobConfigError(f"{path}: unknown table {unknown[0]!r}: jobs are [jobs.NAME]")
    declared = data.get("jobs", {})
    if not isinstance(declared, dict):
        raise JobConfigError(f"{path}: `jobs` must be tables [jobs.NAME]")
    for name, table in declared.items():
        jobs[name] = _checked(name, table, str(path))
    return jobs


def _checked(name: str, table: Any, where: str) -> Job:
    label = f"{where}: jobs.{name}"
    if not NAME.match(name):
        raise JobConfigError(f"{label}: a job's name is lower-case letters, digits, - and _ "
                             "(it is also the systemd instance name: atlas-job@NAME)")
    if not isinstance(table, dict):
        raise JobConfigError(f"{label}: must be a table of settings")
    kind = table.get("kind")
    if kind not in KINDS:
        raise JobConfigError(f"{label}: kind must be one of {', '.join(KINDS)}; got {kind!r}")
    spec = KINDS[kind]
    settings: dict[str, Any] = {}
    for key, value in table.items():
        if key == "kind":
            continue
        if key not in spec:
            known = ", ".join(spec) or "none"
            raise JobConfigError(f"{label}: unknown setting {key!r} for a {kind} job "
                                 f"(known: {known})")
        wanted = spec[key].types
        if not isinstance(value, wanted) or (isinstance(value, bool) and bool not in wanted):
            names = " or ".join(t.__name__ for t in wanted)
            raise JobConfigError(f"{label}: {key} must be a {names}, got {value!r}")
        settings[key] = value
    for key, setting in spec.items():
        if key not in settings:
            if setting.default is ANY:
                raise JobConfigError(f"{label}: {key} is required ({setting.help})")
            settings[key] = setting.default
    _check_kind(label, kind, settings)
    return Job(name, kind, settings)


def _check_kind(label: str, kind: str, s: dict[str, Any]) -> None:
    """What types alone do not say."""
    from ..exports import FORMATS

    def need(ok: bool, message: str) -> None:
        if not ok:
            raise JobConfigError(f"{label}: {message}")

    if kind == "sync-pull":
        need(s["url"].startswith(("http://", "https://")), f"url {s['url']!r} is not http(s)")
        need(1 <= s["page_size"] <= 1000, "page_size must be from 1 to 1000")
        need(s["retries"] >= 0 and s["timeout"] > 0, "retries ≥ 0 and timeout > 0")
    elif kind == "refresh-source":
        need((s["overpass"] not in (None, False)) != (s["csv"] is not None),
             "give either overpass (an Overpass URL, or true) or csv (a CSV URL or path)")
        need(s["csv"] is None or s["mapping"] is not None, "mapping is required with csv")
        need(s["csv"] is not None or s["encoding"] is None, "encoding is for csv only")
        need(not s["close_missing"] or s["full"], "close_missing needs full = true")
        need(s["timeout"] >= 1 and s["retries"] >= 0, "timeout ≥ 1 and retries ≥ 0")
        if isinstance(s["overpass"], str):
            need(s["overpass"].startswith(("http://", "https://")),
                 f"overpass {s['overpass']!r} is not an http(s) URL")
    elif kind == "publish-exports":
        formats = s["formats"] if s["formats"] is not None else list(FORMATS)
        unknown = [f for f in formats if f not in FORMATS]
        need(not unknown and formats, f"formats are among {', '.join(FORMATS)}; got "
                                      f"{unknown or formats!r}")
        s["formats"] = formats
    elif kind == "backup":
        if s["keep"] is None:
            s["keep"] = default_keep()
        need(s["keep"] >= 1, f"keep must be 1 or more, got {s['keep']}")
