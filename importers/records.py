"""What readers hand to the pipeline (what it reports: app.services.runs.Problem)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.services.runs import Problem


@dataclass
class Candidate:
    """An incoming record, already mapped to entry fields (EntryInputSchema's names).

    `raw` holds the source's own tags or cells, `extra` the mapped values that have
    no entry field (operator, check_date…): both are kept in the Source.
    """

    external_id: str
    data: dict[str, Any]
    raw: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    row: int | None = None
    notes: list[Problem] = field(default_factory=list)
    # Set by the pipeline once the entry schema accepted `data`: the loaded input, or
    # the rows that would create the entry (app.services.entries.NewEntry).
    clean: Any = None
    plan: Any = None

    @property
    def label(self) -> str:
        return f"row {self.row}" if self.row is not None else self.external_id
