"""What an export is asked for, and what it tells back (counts, refused entries)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..query.filters import EntryFilter


@dataclass(frozen=True)
class Refusal:
    """An entry left out of a format ("refused"), or written without a value ("note"), and why.

    One line of the export's report.
    """

    id: str
    slug: str
    name: str
    reasons: tuple[str, ...]
    kind: str = "refused"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "slug": self.slug, "name": self.name,
                "reasons": list(self.reasons)}

    def line(self) -> str:
        return f"{self.kind} {self.slug} ({self.id}): " + "; ".join(self.reasons)


@dataclass
class ExportJob:
    """One run of an export. Writers fill in `written` and report refusals as they stream."""

    filter: EntryFilter = field(default_factory=EntryFilter)
    # The filter as the user gave it (kind, tag…), named in the export's metadata.
    filters: dict[str, list[str]] = field(default_factory=dict)
    # The site's public address: JSON-LD ids and links are built on it.
    base_url: str = "http://127.0.0.1:5000"
    on_refusal: Callable[[Refusal], None] | None = None
    written: int = 0
    refused: int = 0
    noted: int = 0

    def refuse(self, refusal: Refusal) -> None:
        self.refused += 1
        if self.on_refusal is not None:
            self.on_refusal(refusal)

    def note(self, note: Refusal) -> None:
        self.noted += 1
        if self.on_refusal is not None:
            self.on_refusal(note)

    def entry_url(self, slug: str) -> str:
        return f"{self.base_url.rstrip('/')}/entries/{slug}"
