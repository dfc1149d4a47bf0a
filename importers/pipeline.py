"""THE upsert pipeline: every reader's candidates go through here.

For each batch of candidates:
1. validate with the entry schema (an invalid optional field is dropped with a
   warning; a missing name or position rejects the row);
2. match by Source (origin, external id): mapped values equal to those last
   imported → unchanged (nothing written, even if an editor changed the entry);
   otherwise settle the entry between its sources (app.services.provenance): a
   field goes to the source of highest priority that gives it, unless an editor
   wrote it: then the editor's value stays and a change of the source's value there
   is reported as a conflict; the batch's updates are written together
   (app.services.entry_updates);
3. unmatched: look for a twin among existing entries (within 50 m with a similar
   unaccented name by pg_trgm, or the same website) in one set-based query, and
   among the batch itself; a twin is flagged for an editor, not created (or, with
   `link_twins`, a twin in the base gets this record as one more source, settled);
4. create the rest through the write service, set-based (create_entries).
Step 1 (importers.prepare: reading, validation, and the rows of new entries
rendered) runs away from the writer: in a child process for a file
(importers.reader_process), else in a thread.
A run is one transaction: a failure or an interruption leaves the base as it
was; --dry-run does everything and rolls it back. Each run is an ImportRun with
its counts and report.
"""

from __future__ import annotations

import gc
import json
import math
import queue
import re
import threading
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from psycopg2 import Error as DBError
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import selectinload

from app.communes.index import commune_index
from app.extensions import db
from app.models import Entry, ImportRun, Tag, User
from app.services.entries import (
    create_entries,
    save_entry,
    snapshot,
)
from app.services.entry_updates import Update, update_entries
from app.services.errors import ConflictError, WriteValidationError
from app.services.link_reasons import LinkReason, reason_english
from app.services.provenance import FIELDS as PROVENANCE_FIELDS
from app.services.provenance import priorities, settle
from app.services.revisions import Author
from app.services.runs import Ledger, OnLedger, Problem, RunResult
from app.services.source_detach import detached_ids
from app.services.tags import ensure_tags
from app.services.threeway import merge
from app.services.twin_rule import (
    DUPLICATE_RADIUS_M,
    DUPLICATES_SQL,
    NAME_SIMILARITY,
    siret_key,
    twin_params,
    twin_reason,
    website_key,
)

from .mapping import BaseMapping
from .prepare import Prepared, mapped, message_text, prepare_batch, read_batches, source_ref
from .reader_process import in_child, prepared_in_child
from .records import Candidate
from .sources import FileSource, Item

BATCH_SIZE = 1000

NO_JIT = text("SET LOCAL jit = off")
# For this transaction only: a session left idle in it (its client killed, stopped,
# stuck) is ended by the server, with its locks and its hold on the change feed.
IDLE_TIMEOUT = text("SELECT current_setting('idle_in_transaction_session_timeout'), "
                    "set_config('idle_in_transaction_session_timeout', :ms, true)")
IDLE_TIMEOUT_BACK = text(
    "SELECT set_config('idle_in_transaction_session_timeout', :was, true)")
KEEPALIVE = text("SELECT 1")

SOURCES_SQL = text("""
SELECT s.external_id, s.entry_id, s.attributes -> 'mapped' AS mapped,
       s.last_seen_at >= :started AS seen, e.deleted_at IS NOT NULL AS deleted
FROM sources s JOIN entries e ON e.id = s.entry_id
WHERE s.origin = :origin AND s.external_id = ANY(CAST(:ids AS text[]))
""")

# Statistics of the tables a batch reads, as they are now, this run's own rows
# included (ANALYZE in a transaction samples them). Left to autovacuum, they lag
# behind a big import, or one run just before (a dry run…): the planner then took the
# origin of a first import for a rare one and scanned all its sources per batch
# instead of probing the unique (origin, external_id) index, or joined a batch's
# sources to every entry.
ANALYZE_TABLES = text("ANALYZE sources, entries, entry_tags")

TOUCH_SQL = text("""
UPDATE sources SET last_seen_at = :started
WHERE origin = :origin AND external_id = ANY(CAST(:ids AS text[]))
""")

LINKED_SQL = text("UPDATE sources SET linked_reason = CAST(:reason AS jsonb) "
                  "WHERE origin = :origin AND external_id = :id")

MISSING_SQL = text("""
SELECT s.external_id, s.entry_id, e.slug, e.status
FROM sources s JOIN entries e ON e.id = s.entry_id
WHERE s.origin = :origin AND s.last_seen_at < :started AND e.deleted_at IS NULL
ORDER BY s.external_id
""")


@dataclass
class RunOptions:
    location: str | None = None
    dry_run: bool = False
    full: bool = False
    close_missing: bool = False
    batch_size: int = BATCH_SIZE
    user: User | None = None
    radius_m: float = DUPLICATE_RADIUS_M
    similarity: float = NAME_SIMILARITY
    # Where a FileSource is read and validated: "process" (a child process), "thread",
    # or "auto" (a child process for files from reader_process.PROCESS_MIN_BYTES on).
    reader: str = "auto"
    # Seconds the run's transaction may sit idle before the server ends it (a client
    # killed, stopped or stuck); None: the application's IMPORT_IDLE_TIMEOUT; 0: never.
    idle_timeout: float | None = None
    # A twin found in the base is fed by this record (one more source of the entry,
    # settled by priority) instead of being flagged: a registered source's runs.
    link_twins: bool = False


class ImportFailed(RuntimeError):
    """The run failed and was rolled back; `run` is the ImportRun recording the failure."""

    def __init__(self, message: str, run: ImportRun) -> None:
        super().__init__(message)
        self.run = run


COUNTS = ("created", "updated", "unchanged", "conflicts", "duplicates", "rejected",
          "skipped", "missing", "closed", "warnings")


class Pipeline(OnLedger):
    def __init__(self, mapping: BaseMapping, options: RunOptions | None = None,
                 progress: Callable[[int], None] | None = None,
                 notify: Callable[[str], None] | None = None) -> None:
        """`progress` gets the progress of each batch (in the source's unit: rows, or
        bytes of a CSV file), `notify` what the reader has to say."""
        self.mapping = mapping
        self.options = options or RunOptions()
        self.progress = progress or (lambda _n: None)
        self.notify = notify or (lambda _message: None)
        self.author = Author(user=self.options.user, label=mapping.author)
        self.ledger = Ledger(
            mapping.origin, COUNTS, location=self.options.location, mapping=str(mapping.path),
            author_label=mapping.author, dry_run=self.options.dry_run,
            user_id=self.options.user.id if self.options.user else None)
        self.started: datetime | None = None
        self.tags_created: list[str] = []
        self._known_tags: set[str] = set()
        self._weights: dict[str, int] | None = None
        # The batch's updates (candidate, write, had conflicts, link reason), written
        # together.
        self._updates: list[tuple[Candidate, Update, bool, LinkReason | None]] = []
        # The records an editor detached from their entry: skipped (source_exclusions).
        self._detached: set[str] = set()
        # Set while most candidates are new: the reader then renders the rows that
        # would create them (wasted work for a re-import, where most are known).
        self._plan_new: Any = threading.Event()

    # -- the run -------------------------------------------------------------------

    def run(self, items: Iterable[Item] | FileSource) -> RunResult:
        """Import everything in one transaction; record the ImportRun; return the result.

        `items` is a reader's iterable, or a FileSource (a file and its mapping), which
        a big file has read and validated in a child process.
        """
        session = db.session
        try:
            # clock_timestamp(), not now(): two runs in one transaction (tests) differ.
            self.started = session.scalar(select(func.clock_timestamp()))
            self.ledger.started_at = self.started
            # The batch statements (twins of a thousand candidates, sources by key) are
            # costed above jit_above_cost but run in milliseconds: compiling them took
            # about 10 ms each, a third of the twins query. Off for this transaction.
            session.execute(NO_JIT)
            idle = self._idle_timeout()
            was = session.scalar(IDLE_TIMEOUT, {"ms": str(int(idle * 1000))}) if idle else None
            session.execute(ANALYZE_TABLES)
            self._detached = detached_ids(self.mapping.origin)
            if self.mapping.communes is None:  # read by the reader (importers.placing)
                self.mapping.communes = commune_index()
            tags = ensure_tags(self.mapping.tags)
            if tags.refused:  # the mapping was checked when loaded: not expected here
                raise ValueError(f"{self.mapping.path}: " + "; ".join(
                    f"tag {slug}: {reason}" for slug, reason in tags.refused))
            self.tags_created = tags.created
            with _bulk_collector(), closing(self._prepared(items, idle)) as batches:
                for number, prepared in enumerate(batches):  # closing() stops the reader
                    self._batch(prepared)
                    if number == 0 and self.counts["created"]:
                        session.execute(ANALYZE_TABLES)  # now with this origin in them
            if self.options.full:
                self._missing()
            if was is not None and not self.options.dry_run:
                # Back as it was, for a caller's enclosing transaction.
                session.execute(IDLE_TIMEOUT_BACK, {"was": was})
            run = self.ledger.finish()
        except BaseException as exc:
            # Rolled back: nothing of what the counts say was written stays.
            message = self._failure(exc)
            failed = self.ledger.fail(
                message, "failed" if isinstance(exc, Exception) else "interrupted")
            if isinstance(exc, Exception):
                raise ImportFailed(message, failed) from exc
            raise
        return self.result(run)

    def _failure(self, exc: BaseException) -> str:
        """What went wrong, in words: a database error without SQLAlchemy's SQL and
        parameters (row data) around it, a lost connection with its likely cause."""
        if not isinstance(exc, DBAPIError):
            return str(exc) or type(exc).__name__
        reason = " ".join(str(exc.orig).split()) or type(exc.orig).__name__
        if not exc.connection_invalidated:
            return f"the database refused the import: {reason}"
        idle = self._idle_timeout()
        hint = (f"; PostgreSQL ends an import whose transaction sits idle for more than "
                f"{idle:g} s (ATLAS_IMPORT_IDLE_TIMEOUT): was the command stopped or "
                "stuck?") if idle else ""
        return f"the connection to the database was lost ({reason}){hint}"


    # -- one batch -----------------------------------------------------------------

    def _idle_timeout(self) -> float:
        if self.options.idle_timeout is not None:
            return self.options.idle_timeout
        return float(current_app.config.get("IMPORT_IDLE_TIMEOUT", 60) or 0)

    def _prepared(self, items: Iterable[Item] | FileSource, idle: float = 0
                  ) -> Iterator[Prepared]:
        """Batches read and validated away from the writer, handed over by a thread.

        A file source big enough to be worth it is read and validated in a child
        process; the thread only receives its batches (unpickling them while this
        thread waits for PostgreSQL). Otherwise the thread reads and validates,
        which overlaps with the writer only partly (both sides are Python).
        While it waits for a batch longer than a third of the `idle` timeout (a
        second pass over a big OSM file…), it keeps its session busy.
        """
        size = self.options.batch_size
        keepalive = idle / 3 if idle else None
        if in_child(items, self.options.reader):
            reader = prepared_in_child(items, size)
            self._plan_new = reader.plan_new
            return _in_background(reader, keepalive)
        self._plan_new = threading.Event()
        self._plan_new.set()
        return _in_background(
            (prepare_batch(batch, advanced, self.mapping, plan=self._plan_new.is_set())
             for batch, advanced in read_batches(items, size)), keepalive)

    def _batch(self, prepared: Prepared) -> None:
        for problem in prepared.problems:
            self.note(problem)
        for message in prepared.notices:
            self.notify(message)
        candidates = prepared.candidates
        self.progress(prepared.advanced)
        if self._detached:
            candidates = self._not_detached(candidates)
        if not candidates:
            return
        ids = [c.external_id for c in candidates]
        known = {row.external_id: row for row in db.session.execute(
            SOURCES_SQL, {"origin": self.mapping.origin, "ids": ids, "started": self.started})}
        changed = [known[c.external_id].entry_id for c in candidates
                   if c.external_id in known and not known[c.external_id].seen
                   and not known[c.external_id].deleted
                   and known[c.external_id].mapped != mapped(c)]
        # The entries to update, with their links, in a few queries for the batch (the
        # write path then finds them in the session instead of loading them one by one);
        # held here, as the session only keeps weak references.
        preloaded = db.session.scalars(
            select(Entry).where(Entry.id.in_(changed))
            .options(selectinload(Entry.relations_out), selectinload(Entry.tags),
                     selectinload(Entry.sources))
        ).all() if changed else []
        new = []
        for candidate in candidates:
            row = known.get(candidate.external_id)
            if row is None:
                new.append(candidate)
            elif row.seen:
                self.note(Problem("rejected", f"the key {candidate.external_id!r} appears "
                                   "again in this import", row=candidate.row,
                                   external_id=candidate.external_id))
            elif row.deleted:
                self.note(Problem("skipped", "the entry was deleted by an editor; it is "
                                   "not restored", row=candidate.row,
                                   external_id=candidate.external_id, entry=str(row.entry_id)))
            elif row.mapped == mapped(candidate):
                self.ledger.count("unchanged")
            else:
                self._update(candidate, row.entry_id, row.mapped or {})
        self._write_updates()
        del preloaded
        if 2 * len(new) >= len(candidates):
            self._plan_new.set()
        else:
            self._plan_new.clear()
        creatable = self._without_twins(new)
        self._write_updates()  # the twins this run feeds (link_twins)
        self._create(creatable)  # stamps its sources with self.started
        matched = [i for i in ids if i in known]
        if matched:
            db.session.execute(TOUCH_SQL, {"origin": self.mapping.origin, "ids": matched,
                                           "started": self.started})

    def _not_detached(self, candidates: list[Candidate]) -> list[Candidate]:
        """`candidates` without the records an editor detached from their entry (each
        reported as skipped): they neither update it nor create it anew."""
        kept = []
        for candidate in candidates:
            if candidate.external_id in self._detached:
                self.note(Problem("skipped", "detached from its entry by an editor: not "
                                  "imported", row=candidate.row,
                                  external_id=candidate.external_id))
            else:
                kept.append(candidate)
        return kept

    # -- matched records -------------------------------------------------------------

    def _update(self, candidate: Candidate, entry_id: uuid.UUID,
                last: dict[str, Any] | None, linked: LinkReason | None = None) -> None:
        """Write what changed for a known record (`last`: what it said before; None
        for a twin it is now linked to, `linked` saying why). Queued: the batch's updates
        are written together (`_write_updates`)."""
        if any(queued.entry.id == entry_id for _, queued, _, _ in self._updates):
            self._write_updates()  # one entry twice in a batch: in their order
        entry = db.session.get(Entry, entry_id)
        current = snapshot(entry)
        new = candidate.data
        # Tags and links merge by the three-way rule; fields are settled by holder.
        outcome = merge(current, last or {}, new,
                        ignore=("extra", "position", *PROVENANCE_FIELDS))
        if self._weights is None:
            self._weights = priorities()
        settled = settle(entry, current, refreshing=(self.mapping.origin,
                                                     candidate.external_id),
                         incoming=new, last=last, weights=self._weights)
        changes = {**outcome.changes, **settled.changes}
        conflicts = settled.conflicts
        if linked:
            self.note(Problem("warning", f"linked to the existing entry as one more "
                              f"source: {reason_english(linked)}", row=candidate.row,
                              external_id=candidate.external_id, entry=entry.slug))
        if conflicts:
            self.ledger.conflict(Problem(
                "conflict", "changed by an editor since the last import; the editor's value "
                "is kept", row=candidate.row, external_id=candidate.external_id, field=name,
                entry=entry.slug, details={"current": value, "incoming": incoming})
                for name, value, incoming in conflicts)
        self._updates.append((candidate, Update(
            entry, changes, expected_version=entry.version,
            source=source_ref(self.mapping, candidate), partial=True,
            attribution=settled.attribution), bool(conflicts), linked))

    def _write_updates(self) -> None:
        """The batch's updates, written together by the write service (update_entries);
        each refusal (validation, tags, slug, version) reported with its row."""
        queued, self._updates = self._updates, []
        if not queued:
            return
        # No savepoint: the run is one transaction that fails as a whole, and a refusal
        # (validation, tags, slug) is found before anything is written.
        outcomes = update_entries([update for _, update, _, _ in queued], author=self.author,
                                  comment=f"Import {self.mapping.origin}", strict=False,
                                  savepoint=False)
        for (candidate, update, conflicts, linked), outcome in zip(queued, outcomes,
                                                                    strict=True):
            if isinstance(outcome, WriteValidationError | ConflictError):
                self.note(Problem("rejected", str(outcome), row=candidate.row,
                                   external_id=candidate.external_id, entry=update.entry.slug))
                continue
            if linked:  # why this record feeds an entry it did not create (editors' review)
                db.session.execute(LINKED_SQL, {"origin": self.mapping.origin,
                                                "id": candidate.external_id,
                                                "reason": json.dumps(linked)})
            if outcome.action == "updated":
                self.ledger.count("updated")
            elif not conflicts:
                self.ledger.count("unchanged")

    # -- new records -----------------------------------------------------------------

    def _without_twins(self, candidates: list[Candidate]) -> list[Candidate]:
        """Candidates that have no twin in the base nor earlier in the batch."""
        if not candidates:
            return []
        params = twin_params([c.data for c in candidates])
        twins = {row.idx: row for row in db.session.execute(
            DUPLICATES_SQL, {**params, "radius": self.options.radius_m,
                             "threshold": self.options.similarity})}
        inner = _batch_twins(candidates, self.options.radius_m, self.options.similarity)
        kept = []
        for index, candidate in enumerate(candidates):
            twin = twins.get(index)
            if twin is not None and self.options.link_twins:
                self._update(candidate, twin.id, None, linked=twin_reason(twin))
            elif twin is not None:
                self._flag(candidate, reason_english(twin_reason(twin)), entry=str(twin.id),
                           slug=twin.slug, name=twin.name)
            elif index in inner:
                other, reason = inner[index]
                self._flag(candidate, f"{reason} {other.label} ({other.data['name']!r}) "
                           "of this import", twin_external_id=other.external_id)
            else:
                kept.append(candidate)
        return kept

    def _flag(self, candidate: Candidate, reason: str, entry: str | None = None,
              **details: Any) -> None:
        self.ledger.note(Problem(
            "duplicate", f"possible twin, not created: {reason}", row=candidate.row,
            external_id=candidate.external_id, entry=entry,
            details={**details, "origin": self.mapping.origin, "data": candidate.data,
                     "extra": candidate.extra, "raw": candidate.raw,
                     "licence": self.mapping.licence}))

    def _create(self, candidates: list[Candidate]) -> None:
        """Create the batch's new entries; a row the write path refuses is rejected
        with its reason, whether it is alone in its batch (a re-import) or not."""
        candidates = self._with_known_tags(candidates)
        if not candidates:
            return
        items = [c.plan if c.plan is not None else (c.clean or c.data, source_ref(self.mapping, c))
                 for c in candidates]
        try:
            create_entries(items, author=self.author, comment=f"Import {self.mapping.origin}",
                           seen_at=self.started)
        except WriteValidationError as exc:
            _raise_if_lost(exc)
            # Find the culprit(s): one by one, each refusal reported with its row.
            for candidate, item in zip(candidates, items, strict=True):
                try:
                    create_entries([item], author=self.author,
                                   comment=f"Import {self.mapping.origin}",
                                   seen_at=self.started)
                except WriteValidationError as refusal:
                    _raise_if_lost(refusal)
                    for key, messages in refusal.messages.items():
                        self.note(Problem("rejected", message_text(messages), row=candidate.row,
                                           external_id=candidate.external_id,
                                           field=key.split(".", 1)[-1]))
                    continue
                self.ledger.count("created")
            return
        self.ledger.count("created", len(candidates))

    def _with_known_tags(self, candidates: list[Candidate]) -> list[Candidate]:
        """`candidates` without those that name a tag the base does not have (each
        rejected): one query per batch for the tags not seen yet in this run."""
        wanted = {t for c in candidates for t in c.data.get("tags", ())}
        unseen = wanted - self._known_tags
        if unseen:
            self._known_tags.update(db.session.scalars(
                select(Tag.slug).where(Tag.slug.in_(sorted(unseen)))))
        if wanted <= self._known_tags:
            return candidates
        kept = []
        for candidate in candidates:
            unknown = sorted(set(candidate.data.get("tags", ())) - self._known_tags)
            if unknown:
                self.note(Problem("rejected", " ".join(f"Unknown tag {s!r}." for s in unknown),
                                   row=candidate.row, external_id=candidate.external_id,
                                   field="tags"))
            else:
                kept.append(candidate)
        return kept

    # -- records that disappeared ------------------------------------------------------

    def _missing(self) -> None:
        rows = db.session.execute(MISSING_SQL, {"origin": self.mapping.origin,
                                                "started": self.started}).all()
        for row in rows:
            self.note(Problem("missing", "not in this full import of the source",
                               external_id=row.external_id, entry=row.slug))
            if self.options.close_missing and row.status != "closed":
                entry = db.session.get(Entry, row.entry_id)
                save_entry(entry, {"status": "closed"}, author=self.author,
                           expected_version=entry.version, partial=True, commit=False,
                           comment=f"Closed: no longer in {self.mapping.origin}",
                           savepoint=False)
                self.note(Problem("closed", "closed: no longer in the source",
                                   external_id=row.external_id, entry=row.slug))


# -- helpers ---------------------------------------------------------------------------

def _raise_if_lost(exc: WriteValidationError) -> None:
    """Raise `exc` when the database itself refused the write: create_entries then
    rolled the session back, and the run's earlier writes with it; going on would
    commit only the rest."""
    if isinstance(exc.__cause__, IntegrityError | DBError):
        raise exc


def _in_background(batches: Iterable[Prepared], keepalive: float | None = None
                   ) -> Iterator[Prepared]:
    """`batches` consumed by a background thread, handed over through a queue of two
    (memory stays flat); its errors are raised here. Closing this generator stops
    the thread, which closes `batches`. Every `keepalive` seconds of waiting, the
    session runs a trivial statement: a slow reader is not an idle client."""
    done = object()
    ready: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def put(value: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for value in batches:
                if not put(value):
                    return
            put(done)
        except BaseException as exc:  # handed to the writing thread, raised there
            put(exc)
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="import-reader", daemon=True)
    thread.start()
    try:
        while True:
            try:
                value = ready.get(timeout=keepalive)
            except queue.Empty:
                db.session.execute(KEEPALIVE)
                continue
            if value is done:
                return
            if isinstance(value, BaseException):
                raise value
            yield value
    finally:
        stop.set()
        thread.join(timeout=10)


@contextmanager
def _bulk_collector() -> Iterator[None]:
    """Python's cycle collector, tuned for the run (process-wide, restored after).

    A batch allocates tens of thousands of short-lived objects, which trigger
    collections that scan everything the application holds (modules, the ORM):
    that was a third of the writer's CPU. What exists before the run is frozen
    (left out of collections; a forked reader also shares those pages unchanged),
    and the youngest generation is collected less often.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], 10_000), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def trigrams(name: str) -> set[str]:
    """pg_trgm's trigrams of an unaccented, lower-cased name (for twins within a batch)."""
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", name.lower())
                    if not unicodedata.combining(ch))
    grams: set[str] = set()
    for word in re.findall(r"[^\W_]+", plain):
        padded = f"  {word} "
        grams.update(padded[i:i + 3] for i in range(len(padded) - 2))
    return grams


def _similarity(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _batch_twins(candidates: list[Candidate], radius_m: float, threshold: float
                 ) -> dict[int, tuple[Candidate, str]]:
    """Twins among the batch itself (not yet in the base), by twin_rule's order: the same
    SIRET, the same website, then a similar name within `radius_m` (a grid of cells)."""
    found: dict[int, tuple[Candidate, str]] = {}
    cells: dict[tuple[int, int], list[int]] = defaultdict(list)
    webs: dict[str, int] = {}
    sirets: dict[str, int] = {}
    grams: dict[int, set[str]] = {}
    deg_lat = max(radius_m, 1.0) / 111_195
    for index, c in enumerate(candidates):
        siret = siret_key(c.data.get("siret"))
        if siret and siret in sirets:
            found[index] = (candidates[sirets[siret]], f"same SIRET ({siret}) as")
            continue
        if siret:
            sirets[siret] = index
        web = website_key(c.data.get("website"))
        if web and web in webs:
            found[index] = (candidates[webs[web]], "same website as")
            continue
        lon, lat = c.data.get("lon"), c.data.get("lat")
        if lon is not None:
            deg_lon = deg_lat / max(math.cos(math.radians(lat)), 0.01)
            cx, cy = int(lon // deg_lon), int(lat // deg_lat)
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    for other in cells.get((cx + dx, cy + dy), ()):
                        o = candidates[other]
                        if _metres(lon, lat, o.data["lon"], o.data["lat"]) > radius_m:
                            continue
                        # Trigrams only for the few candidates that have a neighbour.
                        mine = grams.get(index) or grams.setdefault(
                            index, trigrams(c.data["name"]))
                        theirs = grams.get(other) or grams.setdefault(
                            other, trigrams(o.data["name"]))
                        if _similarity(mine, theirs) >= threshold:
                            found[index] = (o, "near and similar to")
                            break
                    if index in found:
                        break
                if index in found:
                    break
            if index in found:
                continue
            cells[(cx, cy)].append(index)
        if web:
            webs[web] = index
    return found


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return 6_371_008.8 * math.hypot(x, math.radians(lat2 - lat1))
