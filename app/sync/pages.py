"""A peer's change feed read one page ahead: the next page is fetched, parsed and its
records validated in a thread while the page before is written.

Writing a page mostly waits on the database (COPY, look-ups), which releases the GIL;
fetching the next page mostly waits on the peer. Overlapped, a first mirror's pull
takes the longer of the two per page instead of their sum. Nothing here writes: the
cursor is still stored by the caller with the page it applied, so a pull that stops
resumes after the last page written, and a page read ahead but not written is read
again next time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..communes.index import commune_index
from ..services.entries import CleanEntry, NewEntry, validate_entry
from ..services.errors import WriteValidationError
from . import content as C
from .ahead import ahead
from .client import Remote

FEED = "/api/v1/changes"


@dataclass
class Page:
    changes: list[dict[str, Any]]
    cursor: str
    more: bool
    # By index of an upsert: its sync content, its write input (without links) and that
    # input validated (None when refused: the writer reports it).
    prepared: dict[int, Prepared] = field(default_factory=dict)


@dataclass(frozen=True)
class Prepared:
    remote: dict[str, Any]
    data: dict[str, Any]
    loaded: CleanEntry | None
    # The new entry rendered for create_entries, when nothing the writer looks up can
    # change it (no links); None otherwise.
    plan: NewEntry | None = None


# Renders a prepared upsert as a new entry, when it can without the database's state.
Render = Callable[[dict[str, Any], Prepared, Any], "NewEntry | None"]


def page_parts(page: Any) -> tuple[list[dict[str, Any]], str, bool]:
    try:
        return list(page["changes"]), str(page["next_cursor"]), bool(page["has_more"])
    except (KeyError, TypeError):
        raise ValueError("the change feed answered without changes, next_cursor and "
                         "has_more") from None


def prepare(changes: list[dict[str, Any]], render: Render | None = None
            ) -> dict[int, Prepared]:
    """What the writer would compute first for each upsert (pure work); `render` also
    renders the new entries that need nothing from the database."""
    out = {}
    communes = commune_index() if render is not None else None
    for index, change in enumerate(changes):
        record = change.get("entry") if isinstance(change, dict) else None
        if change.get("op") != "upsert" or not isinstance(record, dict):
            continue
        try:
            remote = C.from_record(record, change.get("relations"))
            data = C.to_input({**remote, "relations": []})
        except (KeyError, TypeError, ValueError):
            continue  # malformed: left to the writer, which reports it
        del data["relations"]
        try:
            loaded = validate_entry(data, strict=False)
        except WriteValidationError:
            loaded = None
        ready = Prepared(remote, data, loaded)
        if render is not None and loaded is not None:
            ready = Prepared(remote, data, loaded, render(change, ready, communes))
        out[index] = ready
    return out


def read_ahead(remote: Remote, cursor: str | None, size: int, *,
               prepared: bool = True, render: Render | None = None) -> Iterator[Page]:
    """The feed's pages after `cursor`, in order, each read while the caller writes the
    one before (app/sync/ahead.py). An error of the peer is raised where its page would
    have come."""

    def pages() -> Iterator[Page]:
        after = cursor
        while True:
            params: dict[str, Any] = {"limit": size}
            if after:
                params["since"] = after
            changes, after, more = page_parts(remote.get_json(FEED, **params))
            yield Page(changes, after, more, prepare(changes, render) if prepared else {})
            if not more:
                return

    return ahead(pages, "feed-reader")
