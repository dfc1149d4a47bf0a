"""`flask sync pull`: follow another instance's change feed and keep its entries here.

The remote's UUIDs are kept, and each entry records the source
`remote:<name>` + its UUID, holding what was last pulled (`remote`), what that
became here (`applied`) and the local version after that write. So:

- an entry nobody changed here since the last pull takes the remote's state;
- an entry an editor changed here keeps the editor's values: the fields the
  editor did not touch follow the remote, and a field both sides changed is
  reported as a conflict (the local value stays), as imports do;
- a remote deletion applies only to entries that came from that remote and were
  not changed here since; an entry deleted here by an editor is not restored;
- a link whose target has not arrived yet waits in the source and is made when
  the target comes (at the end of the run, or on a later run);
- an entry already here under another id (one of the change's `aliases`, an alias
  recorded here) or a twin of a local entry by the one twin rule (within 50 m with a
  similar name, or the same website: app/services/links.py) is linked to it, never
  created twice: the remote's id becomes an alias of the local entry
  (`identity_links`), the local entry gets the remote's source, and where the two
  differ today the local values read as written here (kept). An entry here under the
  same id but not from this remote is adopted the same way when both are equal. A
  remote deletion never deletes a linked entry;
- the sheets follow, from the remote's sheets' feed (app/sync/sheets.py).

Each page of the feed is applied in one transaction together with the cursor,
so an interrupted pull resumes after the last page it finished. Each run is
recorded with its counts and report, like an import.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text

from .. import licences
from ..extensions import db
from ..models import Entry, ImportRun, Source
from ..services.entries import SourceRef, delete_entry, restore_entry, save_entry
from ..services.entry_updates import Update, update_entries
from ..services.errors import ConflictError, WriteValidationError
from ..services.link_reasons import reason_english
from ..services.links import Twin, entry_twin, known_entry, link, local_entry
from ..services.revisions import Author
from ..services.runs import Ledger, OnLedger, Problem, RunResult
from ..services.source_detach import detached_ids
from ..services.tags import ensure_tags
from ..services.threeway import POSITION, SET_FIELDS, merge
from . import content as C
from .client import Remote, RemoteError
from .pages import Prepared, read_ahead
from .pull_batch import Plain, create_plain, plain_creations, render_ahead, resolve_pending
from .sheets import SheetPuller
from .state import sync_state

PAGE_SIZE = 1_000
# The page's statements are cheap but costed above jit_above_cost (as an import's).
NO_JIT = text("SET LOCAL jit = off")
# After the first page that created many entries, the planner's statistics are refreshed
# in the transaction (autovacuum would analyze later): the next pages' lookups probe
# the indexes instead of scanning.
ANALYZE = text("ANALYZE entries, sources, identity_links")
ANALYZE_AFTER = 200
COUNTS = ("created", "updated", "unchanged", "deleted", "conflicts", "rejected", "skipped",
          "warnings")


@dataclass
class Queued:
    """An update of the page waiting to be written with the others, and what follows it."""

    entry: Entry
    data: dict[str, Any]
    remote_id: uuid.UUID
    then: Callable[[], None]


class SyncFailed(RuntimeError):
    def __init__(self, message: str, run: ImportRun) -> None:
        super().__init__(message)
        self.run = run


class Puller(OnLedger):
    def __init__(self, remote: Remote, name: str, *, licence: str | None = None,
                 page_size: int = PAGE_SIZE,
                 progress: Callable[[int], None] | None = None, batched: bool = True) -> None:
        self.remote = remote
        self.name = name
        self.origin = f"remote:{name}"
        self.licence = licence
        self.page_size = page_size
        # False: every change one by one (what the batched pages must equal: tests).
        self.batched = batched
        self.progress = progress or (lambda _n: None)
        self.author = Author(label=f"sync {self.origin}")
        self.ledger = Ledger(self.origin, COUNTS, location=remote.base_url,
                             author_label=self.author.label)
        self.tags_created: list[str] = []
        self.sheets: SheetPuller | None = None
        self._queued: list[Queued] = []
        # The remote's ids an editor detached from their entry here: skipped.
        self.detached: set[str] = set()

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> RunResult:
        state = sync_state("pull", self.remote.base_url, self.name)
        try:
            if self.licence is None:
                self.licence = self._remote_licence()
            self._sync_tags()
            self.detached = detached_ids(self.origin)
            self._resolve_pending()
            db.session.commit()
            self.ledger.checkpoint()
            first = True
            # Each page read (and its records validated) while the one before is written.
            render = render_ahead(self.origin, self.licence, self.remote.base_url) \
                if self.batched else None
            for page in read_ahead(self.remote, state.cursor, self.page_size,
                                   prepared=self.batched, render=render):
                db.session.execute(NO_JIT)
                created = self.ledger.counts.get("created", 0)
                self._apply_page(page.changes, page.prepared)
                state.cursor = page.cursor
                if first and self.ledger.counts.get("created", 0) - created > ANALYZE_AFTER:
                    db.session.execute(ANALYZE)  # the planner learns of the new rows
                    first = False
                db.session.commit()  # the page and its cursor, together
                self.ledger.checkpoint()
                self.progress(len(page.changes))
            self._resolve_pending()
            db.session.commit()
            self.sheets = SheetPuller(self)
            self.sheets.run(state)
            state.succeeded_at = datetime.now(UTC)
            run = self.ledger.finish()
        except (RemoteError, ValueError) as exc:
            run = self.ledger.fail(str(exc))  # a failed page is rolled back, not counted
            raise SyncFailed(str(exc), run) from None
        return self.result(run)

    def _note(self, kind: str, reason: str, entry_id: str, **more: Any) -> None:
        """A report line about the entry `entry_id`, counted by its kind (a conflict once
        per entry)."""
        problem = Problem(kind, reason, external_id=entry_id, **more)
        if kind == "conflict":
            self.ledger.conflict([problem])
        else:
            self.ledger.note(problem)

    def _remote_licence(self) -> str | None:
        """The licence the remote declares for its data (its OpenAPI document's info)."""
        try:
            name = self.remote.get_json("/api/openapi.json")["info"]["license"]["name"]
        except (RemoteError, KeyError, TypeError):
            return None
        return licences.identify(name)

    def _sync_tags(self) -> None:
        """Create the remote's tags that are unknown here (labels as the remote has them);
        one that cannot be stored here is reported, and entries naming it are rejected."""
        items = self.remote.get_json("/api/v1/tags").get("items") or []
        tags = ensure_tags(item for item in items if isinstance(item, dict))
        self.tags_created.extend(tags.created)
        for slug, reason in tags.refused:
            self._note("warning", f"tag not created: {reason}", slug, field="tags")

    def _apply_page(self, changes: list[dict[str, Any]],
                    prepared: dict[int, Prepared] | None = None) -> None:
        """The page in its order: runs of plain creations set-based (app/sync/pull_batch.py),
        every other change one by one; the changes of entries an editor detached from
        this remote are skipped (app/services/source_detach.py)."""
        prepared = prepared or {}
        if self.detached:
            kept = self._not_detached(changes)
            # What was read ahead is by the change's place in the page: renumbered.
            prepared = {new: prepared[old] for new, old in enumerate(kept) if old in prepared}
            changes = [changes[old] for old in kept]
        plain = plain_creations(self, changes, prepared) if self.batched else {}
        run: list[Plain] = []
        for index, change in enumerate(changes):
            if index in plain:
                self._write_queued()  # the updates before them, in the page's order
                run.append(plain[index])
                continue
            create_plain(self, run)
            run = []
            self._apply(change)
        self._write_queued()
        create_plain(self, run)

    def _not_detached(self, changes: list[dict[str, Any]]) -> list[int]:
        """The places in the page of the changes not detached here (the others noted)."""
        kept = []
        for index, change in enumerate(changes):
            key = str(change.get("id")) if isinstance(change, dict) else None
            if key in self.detached:
                self._note("skipped", "detached from its entry here by an editor: not "
                           "pulled", key)
            else:
                kept.append(index)
        return kept

    # -- one change ------------------------------------------------------------------------------

    def _apply(self, change: dict[str, Any]) -> None:
        try:
            entry_id = uuid.UUID(str(change["id"]))
            op = change["op"]
        except (KeyError, ValueError, TypeError):
            raise ValueError(f"{self.remote.base_url}: a change without a valid op and id: "
                             f"{str(change)[:200]}") from None
        entry = local_entry(entry_id)  # its id here, or an alias of a local entry
        source = db.session.scalar(select(Source).where(
            Source.origin == self.origin, Source.external_id == str(entry_id)))
        if source is not None and entry is None:
            entry = db.session.get(Entry, source.entry_id)
        if source is not None and source.entry_id != entry.id:
            source = None
        if op == "upsert":
            record = change.get("entry")
            if not isinstance(record, dict):
                raise ValueError(f"{self.remote.base_url}: upsert {entry_id} has no entry")
            remote = C.from_record(record, change.get("relations"))
            if entry is None:
                self._write_queued()
                twin = known_entry(change.get("aliases") or []) or entry_twin(
                    record, not_from=self.origin)
                if twin is not None:
                    self._link(entry_id, twin, remote, record)
                else:
                    self._create(entry_id, remote, record)
            elif source is None:
                self._write_queued()
                self._foreign(entry_id, entry, remote, record)
            else:
                if any(q.entry.id == entry.id for q in self._queued):
                    self._write_queued()  # the same entry again: in the page's order
                self._update(entry_id, entry, source, remote, record)
        elif op == "delete":
            self._write_queued()
            self._delete(entry_id, entry, source)
        else:
            raise ValueError(f"{self.remote.base_url}: unknown op {op!r} for {entry_id}")

    def _resolved(self, remote: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]]]:
        """`remote` with only the links whose target exists here; and the waiting ones."""
        ready, waiting = [], []
        for relation in remote["relations"]:
            # The target's id here: its own, an alias, or what this remote's entry became.
            target = local_entry(relation["target"]) or db.session.scalar(
                select(Entry).join(Source).where(Source.origin == self.origin,
                                                 Source.external_id == relation["target"]))
            if target is not None and target.deleted_at is None:
                ready.append({"type": relation["type"], "target": str(target.id)})
            else:
                waiting.append(relation)
        ready.sort(key=lambda r: (r["type"], r["target"]))
        return {**remote, "relations": ready}, waiting

    def _write(self, entry: Entry | None, data: dict[str, Any], entry_id: uuid.UUID
               ) -> Entry | None:
        """Write through the service; a refused slug falls back to one of our own.
        `entry_id` is the remote's id (a new entry's id here too)."""
        source = SourceRef(self.origin, str(entry_id), licence=self.licence)
        for attempt in (1, 2):
            try:
                return save_entry(entry, data, author=self.author,
                                  expected_version=entry.version if entry else None,
                                  source=source, partial=True, commit=False,
                                  comment=f"Pulled from {self.name}",
                                  entry_id=entry_id if entry is None else None,
                                  strict=False).entry
            except WriteValidationError as exc:
                if attempt == 1 and set(exc.messages) == {"slug"} and data.get("slug"):
                    self._note("warning", f"the slug {data['slug']!r} is taken here; "
                               "the entry keeps another one", str(entry_id), field="slug")
                    data = {k: v for k, v in data.items() if k != "slug"}
                    if entry is None:
                        data["slug"] = None
                    continue
                self._note("rejected", str(exc), str(entry_id),
                           entry=entry.slug if entry else data.get("slug"))
                return None
            except ConflictError as exc:
                self._note("conflict", str(exc), str(entry_id), entry=entry.slug if entry
                           else None)
                return None
        return None  # pragma: no cover

    def _remember(self, entry: Entry, remote: dict[str, Any], record: dict[str, Any],
                  waiting: list[dict[str, str]], *, applied: dict[str, Any] | None = None,
                  local_version: int | None = -1, remote_id: Any = None,
                  linked: bool = False) -> None:
        """Keep in the source what was pulled and what it became here: the next baseline.

        By default the entry as it is now, at its current version (nobody changed it
        here). After a merge, `applied` keeps the values the editor changed as they
        were, and `local_version` the older version, so that they still read as local.
        """
        external_id = str(remote_id or entry.id)
        source = db.session.scalar(select(Source).where(
            Source.origin == self.origin, Source.external_id == external_id))
        if source is None:  # a link: the local entry gets this remote's source
            source = Source(entry_id=entry.id, origin=self.origin, external_id=external_id,
                            licence=self.licence)
            db.session.add(source)
        attributes = {"remote": remote,
                      "applied": applied if applied is not None else C.from_entry(entry),
                      "local_version": entry.version if local_version == -1 else local_version,
                      "remote_version": record.get("version"), "url": self.remote.base_url}
        if waiting:
            attributes["pending"] = waiting
        if linked or (source.attributes or {}).get("linked"):
            attributes["linked"] = True
        source.attributes = attributes
        if self.licence and source.licence != self.licence:
            source.licence = self.licence
        db.session.flush()

    def _create(self, entry_id: uuid.UUID, remote: dict[str, Any],
                record: dict[str, Any]) -> None:
        desired, waiting = self._resolved(remote)
        entry = self._write(None, C.to_input(desired), entry_id)
        if entry is None:
            return
        self._remember(entry, remote, record, waiting)
        self.ledger.count("created")

    def _link(self, remote_id: uuid.UUID, twin: Twin, remote: dict[str, Any],
              record: dict[str, Any]) -> None:
        """The remote's entry is a local one under another id: link them (its id becomes
        an alias here) and follow the remote from now on; where they differ today, the
        local values read as written here and are kept (the three-way rule)."""
        entry = twin.entry
        link("entry", remote_id, entry.id, origin=self.origin, reason=twin.reason)
        desired, waiting = self._resolved(remote)
        same = C.from_entry(entry) == desired
        self._remember(entry, remote, record, waiting, applied=desired,
                       local_version=entry.version if same else None, remote_id=remote_id,
                       linked=True)
        why = reason_english(twin.reason)
        self._note("linked", f"the same as {entry.slug} here ({why}): linked, not created"
                   + ("" if same else "; its values here are kept"),
                   str(remote_id), entry=entry.slug)

    def _foreign(self, remote_id: uuid.UUID, entry: Entry, remote: dict[str, Any],
                 record: dict[str, Any]) -> None:
        """An entry with this UUID (or with it as an alias) exists here but did not come
        from this remote: adopted when equal (it follows the remote from now on)."""
        desired, waiting = self._resolved(remote)
        if C.from_entry(entry) == desired:
            self._remember(entry, remote, record, waiting, remote_id=remote_id, linked=True)
            self.ledger.count("unchanged")
            return
        self._note("conflict", f"an entry with this id exists here and does not come from "
                   f"{self.name}: not overwritten", str(entry.id), entry=entry.slug)

    def _update(self, remote_id: uuid.UUID, entry: Entry, source: Source,
                remote: dict[str, Any], record: dict[str, Any]) -> None:
        attrs = dict(source.attributes or {})
        if entry.deleted_at is not None:
            if attrs.get("deleted_by_remote") and attrs.get("local_version") == entry.version:
                restore_entry(entry, expected_version=entry.version, author=self.author,
                              comment=f"Restored by {self.name}", commit=False)
                attrs["local_version"] = entry.version
            else:
                self._note("skipped", "deleted here by an editor; not restored",
                           str(entry.id), entry=entry.slug)
                return
        local = C.from_entry(entry)
        desired, waiting = self._resolved(remote)
        # Baselines kept by an earlier pull may hold text as it was before it was
        # normalised: compared as it would be stored now.
        applied = attrs.get("applied")
        applied = C.normalised(applied) if applied is not None else None
        last_remote = C.normalised(attrs.get("remote") or {})
        edited_here = applied is not None and attrs.get("local_version") != entry.version
        if applied is None:
            # The source came without a record of the last sync (a push from that
            # instance): only an entry already equal to the remote is adopted.
            differ = C.differing(local, desired)
            if differ:
                self._conflicts(entry, differ, local, desired,
                                "no record of the last sync with this remote, and the entry "
                                "here differs; the local value is kept")
                return
            changes: list[str] = []
            wanted = local
        else:
            # The one three-way rule. An entry nobody changed here since the last pull is
            # its own baseline: every field follows the remote.
            outcome = merge(_flat(local), _flat(last_remote), _flat(desired),
                            applied=_flat(applied if edited_here else local))
            wanted = _content(local, outcome.changes)
            changes = [name for name in C.MERGE_FIELDS if wanted[name] != local[name]]
            if outcome.conflicts:
                self._conflicts(entry, [name for name, _, _ in outcome.conflicts], local,
                                desired, "changed here since the last pull and on the "
                                "remote; the local value is kept")
        def remember() -> None:
            if edited_here:
                # The editor's values stay local: the baseline moves only where we wrote,
                # and for tags and links to the remote's list, so that what the editor
                # added or removed here still reads as theirs.
                now = C.from_entry(entry)
                merged = {**applied, **{name: desired[name] if name in SET_FIELDS
                                        else now[name] for name in changes}}
                self._remember(entry, remote, record, waiting, applied=merged,
                               local_version=attrs["local_version"], remote_id=remote_id)
            else:
                self._remember(entry, remote, record, waiting, remote_id=remote_id)

        if changes:
            # Written with the page's other updates (`_write_queued`), then remembered.
            self._queued.append(Queued(entry, C.to_input(wanted, changes), remote_id,
                                       remember))
            return
        self.ledger.count("unchanged")
        remember()

    def _write_queued(self) -> None:
        """The queued updates, written together by the write service (update_entries);
        each then counted and its baseline kept, or refused as `_write` reports it (a
        slug taken here: that one again alone, without it)."""
        queued, self._queued = self._queued, []
        if not queued:
            return
        if not self.batched:  # the reference path: each through save_entry
            for q in queued:
                if self._write(q.entry, q.data, q.remote_id) is not None:
                    self.ledger.count("updated")
                    q.then()
            return
        outcomes = update_entries(
            [Update(q.entry, q.data, expected_version=q.entry.version, partial=True,
                    source=SourceRef(self.origin, str(q.remote_id), licence=self.licence))
             for q in queued],
            author=self.author, comment=f"Pulled from {self.name}", strict=False)
        for q, outcome in zip(queued, outcomes, strict=True):
            if isinstance(outcome, WriteValidationError) and set(outcome.messages) == {"slug"} \
                    and q.data.get("slug"):
                if self._write(q.entry, q.data, q.remote_id) is None:
                    continue
            elif isinstance(outcome, WriteValidationError):
                self._note("rejected", str(outcome), str(q.remote_id), entry=q.entry.slug)
                continue
            elif isinstance(outcome, ConflictError):
                self._note("conflict", str(outcome), str(q.remote_id), entry=q.entry.slug)
                continue
            self.ledger.count("updated")
            q.then()

    def _conflicts(self, entry: Entry, names: list[str], local: dict[str, Any],
                   desired: dict[str, Any], reason: str) -> None:
        self.ledger.conflict(
            Problem("conflict", reason, external_id=str(entry.id), field=name, entry=entry.slug,
                    details={"current": local[name], "incoming": desired[name]})
            for name in names)

    def _delete(self, entry_id: uuid.UUID, entry: Entry | None, source: Source | None) -> None:
        if entry is None or entry.deleted_at is not None:
            return
        if source is None or (source.attributes or {}).get("linked"):
            self._note("skipped", f"deleted on {self.name}, but the entry here does not come "
                       f"from {self.name}: not deleted", str(entry_id), entry=entry.slug)
            return
        attrs = dict(source.attributes or {})
        if attrs.get("local_version") != entry.version:
            self._note("conflict", f"deleted on {self.name}, but changed here since the last "
                       "pull: not deleted", str(entry_id), entry=entry.slug)
            return
        delete_entry(entry, expected_version=entry.version, author=self.author,
                     comment=f"Deleted on {self.name}", commit=False)
        attrs.update(local_version=entry.version, deleted_by_remote=True)
        source.attributes = attrs
        db.session.flush()
        self.ledger.count("deleted")

    def _resolve_pending(self) -> None:
        """Make the links whose targets have arrived since they were pulled (set-based for
        the entries nobody changed here: app/sync/pull_batch.py)."""
        settled = resolve_pending(self) if self.batched else set()
        waiting = db.session.scalars(select(Source).where(
            Source.origin == self.origin, Source.attributes.has_key("pending"))).all()
        for source in waiting:
            if source.id in settled:
                continue
            entry = db.session.get(Entry, source.entry_id)
            attrs = source.attributes
            if entry is None or entry.deleted_at is not None \
                    or attrs.get("local_version") != entry.version:
                continue
            desired, still = self._resolved(attrs["remote"])
            if len(still) == len(attrs["pending"]):
                continue
            remote_id = uuid.UUID(source.external_id)
            if self._write(entry, {"relations": desired["relations"]}, remote_id) is not None:
                record = {"version": attrs.get("remote_version")}
                self._remember(entry, attrs["remote"], record, still, remote_id=remote_id)


def _flat(content: dict[str, Any]) -> dict[str, Any]:
    """Sync content in the three-way rule's form: the position as lon and lat."""
    flat = {name: value for name, value in content.items() if name != "position"}
    flat.update(zip(POSITION, content.get("position") or (None, None), strict=True))
    return flat


def _content(local: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`local` with the three-way rule's `changes` applied, in sync content's form."""
    wanted = {**local, **{k: v for k, v in changes.items() if k not in POSITION}}
    # Sorted as sync content sorts them, so that equal lists compare equal.
    wanted["tags"] = sorted(wanted["tags"])
    wanted["relations"] = sorted(wanted["relations"], key=lambda r: (r["type"], r["target"]))
    if POSITION[0] in changes:
        lon, lat = (changes[k] for k in POSITION)
        wanted["position"] = None if lon is None or lat is None else [lon, lat]
    return wanted
