"""Load the Lille demo data (data/demo/lille.toml) through the write services.

Idempotent: entries are matched by their `demo` source, tags by slug, sheets by
entry + title + date, and a write that changes nothing writes nothing.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from .config import PROJECT_ROOT
from .extensions import db
from .models import Tag
from .services.entries import SourceRef, find_by_source, save_entry
from .services.errors import WriteValidationError
from .services.evaluations import find_evaluation, save_evaluation
from .services.revisions import Author

DEMO_FILE = PROJECT_ROOT / "data" / "demo" / "lille.toml"
ORIGIN = "demo"
LICENCE = "ODbL-1.0 (Atlas des communs demo data)"
AUTHOR = Author(label="demo")
# Keys of a demo entry that are provenance, not entry fields.
SOURCE_KEYS = ("position_note",)


def read_demo(path: Path = DEMO_FILE) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def load_demo(path: Path = DEMO_FILE,
              progress: Callable[[str], None] | None = None) -> Counter[str]:
    """Create or update everything in the file; returns counts per action."""
    data = read_demo(path)
    counts: Counter[str] = Counter()
    note = progress or (lambda _message: None)

    for spec in data.get("tags", []):
        counts[f"tags {_upsert_tag(spec)}"] += 1
    db.session.flush()

    entries = data.get("entries", [])
    # Pass 1: every entry, with the relations whose targets exist already
    # (all of them on a re-load), so that pass 2 can link to any entry.
    for spec in entries:
        _write_entry(spec, with_relations=False, counts=counts)
    # Pass 2: all the relations.
    for spec in entries:
        _write_entry(spec, with_relations=True, counts=counts)
    note(f"{len(entries)} entries")

    for spec in data.get("evaluations", []):
        entry = find_by_source(ORIGIN, spec["entry"])
        if entry is None:
            raise WriteValidationError({"evaluations.entry": [f"No entry {spec['entry']!r}."]})
        payload = {k: v for k, v in spec.items() if k != "entry"}
        existing = find_evaluation(entry, spec["title"], spec["date"])
        payload["held_on"] = payload.pop("date").isoformat()
        result = save_evaluation(entry, existing, payload, author=AUTHOR,
                                 expected_version=None, comment="Demo data", commit=False)
        counts[f"evaluations {result.action}"] += 1
    db.session.commit()
    return counts


def _upsert_tag(spec: dict[str, str]) -> str:
    tag = db.session.scalar(select(Tag).where(Tag.slug == spec["slug"]))
    values = {k: spec[k] for k in ("label_fr", "label_en", "group") if k in spec}
    if tag is None:
        db.session.add(Tag(slug=spec["slug"], **values))
        return "created"
    changed = False
    for key, value in values.items():
        if getattr(tag, key) != value:
            setattr(tag, key, value)
            changed = True
    return "updated" if changed else "unchanged"


def _write_entry(spec: dict[str, Any], *, with_relations: bool, counts: Counter[str]) -> None:
    attributes = {k: spec[k] for k in SOURCE_KEYS if k in spec}
    data = {k: v for k, v in spec.items() if k not in SOURCE_KEYS}
    relations = data.pop("relations", [])
    source = SourceRef(ORIGIN, spec["slug"], attributes, LICENCE)
    entry = find_by_source(ORIGIN, spec["slug"])
    if with_relations:
        data = {"relations": relations}
    else:
        data["relations"] = [r for r in relations
                             if find_by_source(ORIGIN, r["target"]) is not None]
    try:
        result = save_entry(entry, data, author=AUTHOR, expected_version=None,
                            comment="Demo data", source=source,
                            partial=with_relations, commit=False)
    except WriteValidationError as exc:
        raise WriteValidationError(
            {f"entries[{spec['slug']}].{k}": v for k, v in exc.messages.items()}) from None
    if not with_relations or result.action != "unchanged":
        counts[f"entries {result.action}"] += 1
