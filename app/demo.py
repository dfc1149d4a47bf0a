"""Load the Lille demo data (data/demo/lille.toml) through the write services.

Idempotent: entries are matched by their `demo` source, tags by slug, sheets by
entry + title + date, and a write that changes nothing writes nothing. It never
undoes an editor: a demo entry follows the file only in the fields nobody changed
since the demo load last wrote them (app.services.threeway), a sheet only while
nobody else saved it, and an existing tag keeps its labels.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from .communes.package import ensure_loaded
from .config import PROJECT_ROOT
from .extensions import db
from .models import Source
from .services.entries import SourceRef, as_snapshot, find_by_source, save_entry, snapshot
from .services.errors import WriteValidationError
from .services.evaluations import find_evaluation, save_evaluation
from .services.revisions import Author, edited_since, last_written_by
from .services.tags import ensure_tags
from .services.threeway import merge

DEMO_FILE = PROJECT_ROOT / "data" / "demo" / "lille.toml"
ORIGIN = "demo"
LICENCE = "ODbL-1.0 (Atlas des communs demo data)"
AUTHOR = Author(label="demo")
# Keys of a demo entry that are provenance, not entry fields.
SOURCE_KEYS = ("position_note",)
# The demo source's record of what the file said at the last load (the three-way rule).
FILE_KEY = "file"


def read_demo(path: Path = DEMO_FILE) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def load_demo(path: Path = DEMO_FILE,
              progress: Callable[[str], None] | None = None) -> Counter[str]:
    """Create or update everything in the file; returns counts per action."""
    data = read_demo(path)
    counts: Counter[str] = Counter()
    kept: list[str] = []
    note = progress or (lambda _message: None)

    if ensure_loaded() is not None:  # the demo's INSEE codes (app/communes)
        note("Loaded the communes of the Nord and Pas-de-Calais (data/communes/).")
    specs = data.get("tags", [])
    tags = ensure_tags(specs)  # an existing tag keeps its labels (an admin may have renamed it)
    if tags.refused:
        raise WriteValidationError({f"tags[{slug}]": reason for slug, reason in tags.refused})
    counts.update({"tags created": len(tags.created),
                   "tags unchanged": len(specs) - len(tags.created)})
    counts += Counter()  # no line for a count of zero

    entries = data.get("entries", [])
    # Pass 1: every entry, with the relations whose targets exist already
    # (all of them on a re-load), so that pass 2 can link to any entry.
    for spec in entries:
        _write_entry(spec, with_relations=False, counts=counts, kept=kept)
    # Pass 2: all the relations.
    for spec in entries:
        _write_entry(spec, with_relations=True, counts=counts, kept=kept)
    note(f"{len(entries)} entries")
    for line in kept:
        note(f"kept: {line}")
    counts["fields kept (edited here)"] = len(kept)

    for spec in data.get("evaluations", []):
        entry = find_by_source(ORIGIN, spec["entry"])
        if entry is None:
            raise WriteValidationError({"evaluations.entry": [f"No entry {spec['entry']!r}."]})
        payload = {k: v for k, v in spec.items() if k != "entry"}
        existing = find_evaluation(entry, spec["title"], spec["date"])
        if existing is not None and edited_since(existing, AUTHOR):
            note(f"kept: the sheet {spec['title']!r} (changed here since the demo load)")
            counts["evaluations kept (edited here)"] += 1
            continue
        payload["held_on"] = payload.pop("date").isoformat()
        result = save_evaluation(entry, existing, payload, author=AUTHOR,
                                 expected_version=None, comment="Demo data", commit=False)
        counts[f"evaluations {result.action}"] += 1
    db.session.commit()
    return counts


def _write_entry(spec: dict[str, Any], *, with_relations: bool, counts: Counter[str],
                 kept: list[str]) -> None:
    """Create a demo entry, or bring it to the demo file's values where nobody else changed
    it since the demo load wrote it (the three-way rule): an editor's change stays.

    What the file said at the last load is kept in the demo source (`file`); a base
    loaded before that was kept has it in the demo's latest revision, since the demo
    load then wrote every field."""
    data = {k: v for k, v in spec.items() if k not in SOURCE_KEYS}
    relations = [r for r in data.pop("relations", [])
                 if find_by_source(ORIGIN, r["target"]) is not None]
    entry = find_by_source(ORIGIN, spec["slug"])
    try:
        said = as_snapshot({**data, "relations": relations})
        if entry is None:
            changes = {**data, "relations": relations}
        else:
            stored = db.session.scalar(select(Source.attributes).where(
                Source.origin == ORIGIN, Source.external_id == spec["slug"])) or {}
            last = stored.get(FILE_KEY) or last_written_by(entry, AUTHOR)
            incoming = {"relations": said["relations"]} if with_relations else said
            outcome = merge(snapshot(entry), {k: last.get(k) for k in incoming}, incoming)
            changes = outcome.changes
            kept.extend(f"{entry.slug}: {name} (changed here since the demo load)"
                        for name, _here, _demo in outcome.conflicts)
        attributes = {**{k: spec[k] for k in SOURCE_KEYS if k in spec}, FILE_KEY: said}
        result = save_entry(entry, changes, author=AUTHOR, expected_version=None,
                            comment="Demo data", commit=False,
                            source=SourceRef(ORIGIN, spec["slug"], attributes, LICENCE))
    except WriteValidationError as exc:
        raise WriteValidationError(
            {f"entries[{spec['slug']}].{k}": v for k, v in exc.messages.items()}) from None
    if not with_relations or result.action != "unchanged":
        counts[f"entries {result.action}"] += 1
