"""Many updates at once through the one write path: what `save_entry` does for each, with
the look-ups done once for the batch and the writes in a few statements.

A mirror's push or pull and an import's refresh update hundreds of entries in a row;
one `save_entry` each costs a dozen statements (its tags, its source, its slug, a
savepoint, the update, the revision, who holds each field…). `update_entries` checks
every item exactly as `save_entry` does (the same schema, version check, located
check, INSEE code, tag, slug, link and source rules), each refusal its own, then
writes the accepted ones together: one flush for the entries, their tags and links,
the revisions in one INSERT, who holds each field in one statement. A refusal by the
database itself (a concurrent writer, a slug taken meanwhile) undoes the whole batch
and the accepted items are written again one by one through `save_entry`, each then
with its own outcome: nothing is half-written, and no item pays for another.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from ..communes.fill import fill_insee_code
from ..communes.index import commune_index
from ..extensions import db
from ..models import Entry, IdentityLink, Source, Tag
from . import provenance
from .entries import (
    _DEFER_FEATURES,
    _REFRESH_FEATURES,
    CONTENT_KEYS,
    SLUG_TAKEN,
    SourceRef,
    WriteResult,
    _apply,
    _check_located,
    _desired_state,
    _load,
    claim_source,
    save_entry,
    snapshot,
    unknown_tag,
)
from .errors import ConflictError, WriteValidationError, coded
from .links import as_uuid
from .revisions import Author, record_revision
from .source_pairs import matching

_NO_JIT = text("SET LOCAL jit = off")
_TAKEN = text("SELECT slug, id FROM entries WHERE slug = ANY(CAST(:slugs AS text[]))")


@dataclass(frozen=True)
class Update:
    """One write of a batch: what `save_entry(entry, data, …)` would be given."""

    entry: Entry
    data: Mapping[str, Any]
    expected_version: int | None
    source: SourceRef | None = None
    partial: bool = True
    attribution: Mapping[str, str | None] | None = None


Outcome = WriteResult | WriteValidationError | ConflictError


@dataclass
class _Planned:
    index: int
    item: Update
    current: dict[str, Any]
    desired: dict[str, Any]
    found: Source | None
    changed: bool


def update_entries(items: Sequence[Update], *, author: Author, comment: str | None = None,
                   strict: bool = True, savepoint: bool = True) -> list[Outcome]:
    """Update many entries; one outcome per item, in their order: its WriteResult, or the
    WriteValidationError / ConflictError that refused it (nothing of it written).

    Nothing is committed (the caller commits). `savepoint=False` is for a writer whose
    whole transaction fails as one (an import): a refusal by the database then raises
    instead of being retried item by item.
    """
    outcomes: list[Outcome | None] = [None] * len(items)
    if not items:
        return []
    if len({item.entry.id for item in items}) != len(items):
        raise ValueError("update_entries takes each entry once per batch")
    _preload([item.entry.id for item in items])
    lookups = _Lookups(items)
    planned: list[_Planned] = []
    for index, item in enumerate(items):
        try:
            planned.append(_plan(index, item, lookups, strict))
        except (WriteValidationError, ConflictError) as exc:
            outcomes[index] = exc
    lookups.claim_slugs(planned, outcomes)
    planned = [p for p in planned if outcomes[p.index] is None]
    try:
        if savepoint:
            with db.session.begin_nested():
                results = _write(planned, lookups, author, comment)
        else:
            results = _write(planned, lookups, author, comment)
    except (StaleDataError, IntegrityError):
        if not savepoint:
            raise
        # A concurrent writer or a constraint refused the batch (rolled back): each item
        # again on its own, with its own outcome.
        for plan in planned:
            outcomes[plan.index] = _alone(plan.item, author, comment, strict)
        return outcomes  # type: ignore[return-value]
    for plan, result in zip(planned, results, strict=True):
        outcomes[plan.index] = result
    return outcomes  # type: ignore[return-value]


def _alone(item: Update, author: Author, comment: str | None, strict: bool) -> Outcome:
    entry = db.session.get(Entry, item.entry.id)
    if entry is None:  # pragma: no cover - deleted for good meanwhile
        return WriteValidationError({"entry": ["No such entry any more."]})
    try:
        return save_entry(entry, item.data, author=author,
                          expected_version=item.expected_version, comment=comment,
                          source=item.source, partial=item.partial, commit=False,
                          strict=strict, attribution=item.attribution)
    except (WriteValidationError, ConflictError) as exc:
        return exc


def _preload(ids: list[uuid.UUID]) -> None:
    """The entries' tags, links and sources in three queries, not three per entry (the
    entries themselves are in the session already: the caller holds them)."""
    db.session.scalars(select(Entry).where(Entry.id.in_(ids)).options(
        selectinload(Entry.tags), selectinload(Entry.relations_out),
        selectinload(Entry.sources))).all()


class _Lookups:
    """What the checks need from the database, asked once for the whole batch."""

    def __init__(self, items: Sequence[Update]) -> None:
        datas = [item.data for item in items]
        slugs = {str(t) for d in datas for t in (d.get("tags") or [])
                 if isinstance(d.get("tags"), list | tuple)}
        slugs |= {tag.slug for item in items for tag in item.entry.tags}
        self.tags = {t.slug: t for t in db.session.scalars(
            select(Tag).where(Tag.slug.in_(sorted(slugs))))} if slugs else {}
        wanted = {str(r.get("target")) for d in datas
                  for r in (d.get("relations") or []) if isinstance(r, Mapping)}
        self.targets = _targets(wanted)
        refs = {(i.source.origin, i.source.external_id) for i in items if i.source}
        self.sources: dict[tuple[str, str], Source] = {}
        ids = matching("sources", refs)
        if ids:
            for source in db.session.scalars(select(Source).where(
                    Source.id.in_(sorted(ids.values())))):
                self.sources[(source.origin, source.external_id)] = source
        self.communes = commune_index()

    def claim_slugs(self, planned: list[_Planned], outcomes: list[Outcome | None]) -> None:
        """A changed slug taken by another entry (here or earlier in the batch) is the
        item's 422, as save_entry's."""
        moving = [p for p in planned if p.changed and p.desired["slug"] != p.current["slug"]]
        if not moving:
            return
        owners = {slug: str(key) for slug, key in db.session.execute(
            _TAKEN, {"slugs": sorted({p.desired["slug"] for p in moving})})}
        # Slugs this batch frees or keeps count as their entry's until written.
        for plan in moving:
            slug = plan.desired["slug"]
            owner = owners.get(slug)
            if owner is not None and owner != plan.current["id"]:
                outcomes[plan.index] = WriteValidationError({"slug": [SLUG_TAKEN]})
            else:
                owners[slug] = plan.current["id"]


def _targets(wanted: set[str]) -> dict[str, str | None]:
    """Link targets named by UUID -> the local entry's id (its own, or the one it is an
    alias of), None when there is none; slugs are left to the write path's own look-up."""
    keys = {w: as_uuid(w) for w in wanted}
    ids = [k for k in keys.values() if k is not None]
    if not ids:
        return {}
    own = {str(k) for k in db.session.scalars(select(Entry.id).where(Entry.id.in_(ids)))}
    aliased = {str(a): str(e) for a, e in db.session.execute(
        select(IdentityLink.alias_id, IdentityLink.entity_id).where(
            IdentityLink.entity_type == "entry", IdentityLink.alias_id.in_(ids)))}
    out: dict[str, str | None] = {}
    for given, key in keys.items():
        if key is not None:
            out[given] = str(key) if str(key) in own else aliased.get(str(key))
    return out


def _plan(index: int, item: Update, lookups: _Lookups, strict: bool) -> _Planned:
    """save_entry's checks for one item, with the batch's look-ups."""
    entry = item.entry
    clean = _load(item.data, partial=item.partial, strict=strict)
    if item.expected_version is not None and entry.version != item.expected_version:
        raise ConflictError("entry", entry.id, item.expected_version, entry.version)
    current = snapshot(entry)
    desired = _desired_state(current, clean, lookups.targets)
    fill_insee_code(desired, current, clean, lookups.communes)
    _check_located(desired)
    changed = any(desired[k] != current[k] for k in CONTENT_KEYS)
    found = None
    if item.source is not None:
        found = lookups.sources.get((item.source.origin, item.source.external_id))
        if found is not None and found.entry_id != entry.id:
            raise WriteValidationError({"source": [coded(
                "source_taken", "{origin} {external_id} already belongs to another entry.",
                origin=item.source.origin, external_id=item.source.external_id)]})
    if changed:
        unknown = sorted(set(desired["tags"]) - set(lookups.tags))
        if unknown:
            raise WriteValidationError({"tags": [unknown_tag(s) for s in unknown]})
    return _Planned(index, item, current, desired, found, changed)


def _write(planned: list[_Planned], lookups: _Lookups, author: Author,
           comment: str | None) -> list[WriteResult]:
    """The accepted items, written together (save_entry's writes, set-based)."""
    now = datetime.now(UTC)
    changed = [p for p in planned if p.changed]
    with db.session.no_autoflush:
        for plan in changed:
            plan.item.entry.updated_at = now
            _apply(plan.item.entry, plan.desired,
                   [lookups.tags[slug] for slug in plan.desired["tags"]])
    if changed:
        # The stored features (migration 0007) once for the batch, not by the triggers
        # of each entry's UPDATE and tag changes (as create_entries does). Hundreds of
        # ids cost that refresh above jit_above_cost: compiling it took longer than
        # running it (seconds for 500 entries), as for an import's statements.
        db.session.execute(_NO_JIT)
        db.session.execute(_DEFER_FEATURES, {"on": "on"})
        try:
            db.session.flush()  # the entries' UPDATEs (each checks its version), tags, links
        finally:
            db.session.execute(_DEFER_FEATURES, {"on": "off"})
        db.session.execute(_REFRESH_FEATURES, {
            "ids": [str(p.item.entry.id) for p in changed]})
    _attach_sources([p for p in planned if p.item.source is not None], now)
    user_id = author.user.id if author.user else None
    held: list[tuple[Any, ...]] = []
    dropped: list[tuple[Any, str]] = []
    results = []
    for plan in planned:
        entry, item = plan.item.entry, plan.item
        origin = item.source.origin if item.source is not None else None
        if plan.changed:
            after = snapshot(entry)
            record_revision("entry", entry.id, entry.version, "update", after, author,
                            comment)
            rows, gone = provenance.write_holders(plan.current, after, origin=origin,
                                                  user_id=user_id,
                                                  attribution=item.attribution)
        elif item.attribution:  # the same values, now held by another source
            rows, gone = provenance.write_holders(plan.current, plan.current, origin=None,
                                                  user_id=None,
                                                  attribution=item.attribution)
        else:
            rows, gone = [], []
        held.extend((entry.id, *row) for row in rows)
        dropped.extend((entry.id, name) for name in gone)
        results.append(WriteResult(entry, "updated" if plan.changed else "unchanged"))
    provenance.record_many(held, now)
    provenance.drop_many(dropped)
    db.session.flush()
    return results


def _attach_sources(planned: list[_Planned], now: datetime) -> None:
    """Each item's source recorded on its entry (save_entry's `_attach_source`), new ones
    in one flush."""
    added = []
    for plan in planned:
        _source, new = claim_source(plan.item.entry.id, plan.item.source, plan.found, now)
        if new:
            added.append(plan.item.entry)
    if added:
        db.session.flush()
        for entry in added:
            db.session.expire(entry, ["sources"])
