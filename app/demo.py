"""Load the Lille demo data (data/demo/lille.toml) through the write services.

Idempotent: entries are matched by their `demo` source, tags by slug, sheets by
entry + title + date, and a write that changes nothing writes nothing.

Every instance gives a demo entry and a demo sheet the same id (`stable_entry_id`,
`stable_sheet_id`: uuid5 of a fixed namespace and the slug), so two instances that
both hold the demo mirror each other without a duplicate. An entry a mirror already
brought under that id is adopted. A base loaded before ids were stable keeps its own
ids (public, perhaps mirrored elsewhere) and records the stable ones as aliases
(`record_demo_aliases`, also run by migration 0017). It never
undoes an editor: a demo entry follows the file only in the fields nobody changed
since the demo load last wrote them (app.services.threeway), a sheet only while
nobody else saved it, and an existing tag keeps its labels.
"""

from __future__ import annotations

import tomllib
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from .communes.package import ensure_loaded
from .config import PROJECT_ROOT
from .extensions import db
from .models import Entry, Evaluation, Source
from .services.entries import SourceRef, as_snapshot, find_by_source, save_entry, snapshot
from .services.errors import WriteValidationError
from .services.evaluations import find_evaluation, save_evaluation
from .services.link_reasons import link_reason
from .services.links import link
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
# Never change it: every instance derives the demo's ids from it (migration 0017 too).
DEMO_NAMESPACE = uuid.UUID("9c0dae42-a3f3-5770-8869-4135e2ecb7fb")


def stable_entry_id(slug: str) -> uuid.UUID:
    """The id every instance gives the demo entry `slug`."""
    return uuid.uuid5(DEMO_NAMESPACE, slug)


def stable_sheet_id(entry_slug: str, held_on: str, title: str) -> uuid.UUID:
    """The id every instance gives a demo sheet (held_on as YYYY-MM-DD)."""
    return uuid.uuid5(DEMO_NAMESPACE, f"evaluation/{entry_slug}/{held_on}/{title}")


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
        sheet_id = stable_sheet_id(spec["entry"], spec["date"].isoformat(), spec["title"])
        existing = find_evaluation(entry, spec["title"], spec["date"]) or db.session.get(
            Evaluation, sheet_id)
        if existing is not None and edited_since(existing, AUTHOR):
            note(f"kept: the sheet {spec['title']!r} (changed here since the demo load)")
            counts["evaluations kept (edited here)"] += 1
            continue
        payload["held_on"] = payload.pop("date").isoformat()
        result = save_evaluation(entry, existing, payload, author=AUTHOR,
                                 expected_version=None, comment="Demo data", commit=False,
                                 evaluation_id=sheet_id)
        counts[f"evaluations {result.action}"] += 1
    record_demo_aliases(data)
    db.session.commit()
    return counts


def record_demo_aliases(data: dict[str, Any] | None = None) -> int:
    """Record the stable id of each demo entry and sheet held here under another id (a
    base loaded before ids were stable) as its alias; returns how many were added.

    The rows keep their ids: they are public, and other instances may hold them
    already. Re-keying would split those mirrors; an alias joins both ids instead."""
    data = data if data is not None else read_demo()
    added = 0
    for spec in data.get("entries", []):
        entry = find_by_source(ORIGIN, spec["slug"])
        if entry is not None and link("entry", stable_entry_id(spec["slug"]), entry.id,
                                      origin=ORIGIN, reason=link_reason("demo_entry")):
            added += 1
    for spec in data.get("evaluations", []):
        entry = find_by_source(ORIGIN, spec["entry"])
        sheet = entry and find_evaluation(entry, spec["title"], spec["date"])
        stable = stable_sheet_id(spec["entry"], spec["date"].isoformat(), spec["title"])
        if sheet is not None and link("evaluation", stable, sheet.id, origin=ORIGIN,
                                      reason=link_reason("demo_sheet")):
            added += 1
    return added


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
    # A mirror may have brought the entry here already, under the same stable id.
    entry = find_by_source(ORIGIN, spec["slug"]) or db.session.get(
        Entry, stable_entry_id(spec["slug"]))
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
                            comment="Demo data", commit=False, strict=False,
                            source=SourceRef(ORIGIN, spec["slug"], attributes, LICENCE),
                            entry_id=stable_entry_id(spec["slug"]) if entry is None else None)
    except WriteValidationError as exc:
        raise WriteValidationError(
            {f"entries[{spec['slug']}].{k}": v for k, v in exc.messages.items()}) from None
    if not with_relations or result.action != "unchanged":
        counts[f"entries {result.action}"] += 1
