"""`flask sync push`: send what changed here since the last push to another instance's
write API (PUT/DELETE with If-Match, bearer token), as the write API contract says.

What changed is read from our own change feed (`app.query.changes`: every entry in
the order of the transaction that last wrote it, deletions and withdrawals as
deletions), after the cursor stored for that target. For each entry:

- never sent: `PUT /api/v1/entries/<uuid>` with `If-None-Match: *` creates it on
  the target with the same UUID;
- sent before: `PUT` with `If-Match: "v<n>"`, n being the version the target
  answered last time (kept in `sync_pushed`); a 412 means the target's copy
  changed since: if it already holds what we send (our own write, whose answer
  was lost), that is adopted; otherwise it is reported as a conflict and left;
- deleted or withdrawn here: `DELETE` with `If-Match`;
- pulled from the target itself and unchanged here since: nothing is sent (it would
  only echo); the version the pull saw is taken as the target's.
Every write carries `X-Atlas-Source: remote:<our name> <uuid>`.

The cursor and the acknowledged version are committed after each entry, so a
push that stops (the target goes away, retries exhausted) resumes at the entry
it was on, and replaying that entry sends nothing twice. A target that refuses an
entry (422, a conflict) gets a report line and the push goes on; the refused
entries are tried again at the next push. A link to an entry the target does not
have yet is sent once that entry has been: through the batch write, the entry is held
back and created at the end of the push with its links (one write); one by one, it
is created without them and updated at the end. Through the batch write, two batch
requests are in flight at once (the target validates one while it writes the other);
pages are settled in their order, and the cursor passes a page only once every answer
of its batches came back.

The published sheets follow the entries, from our sheets' feed
(app/sync/sheet_push.py).
"""

from __future__ import annotations

import re
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import requests
from sqlalchemy import Text, cast, literal, select, tuple_
from sqlalchemy.dialects.postgresql import UUID

from ..extensions import db
from ..formats.changes import change_json
from ..models import Entry, PushedEntry, Source, SyncState
from ..models.entry import XID8
from ..query.changes import FEED_SORT, HORIZON, decode_cursor, wait_for_horizon
from ..query.paging import Cursor
from . import content as C
from .ahead import ahead
from .client import Remote, RemoteError, problem_detail
from .state import sync_state

PAGE = 1_000
# Items per batch request (the target takes up to 1,000): fewer requests, and more links
# whose target comes in the same request (sent once, not without the link and again).
BATCH = 500
BATCH_PATH = "/api/v1/entries/batch"
ETAG_RE = re.compile(r'^(?:W/)?"v(\d+)"$')
RELATION_TARGET = re.compile(r"^relations\.\d+\.target$")
BODY_FIELDS = (*C.SCALARS, "lon", "lat", "tags")
COUNTS = ("created", "updated", "unchanged", "deleted", "refused", "conflicts")
# Batch requests in flight at once: the target validates one while it writes the other.
IN_FLIGHT = 2


class PushFailed(RuntimeError):
    """The target could not be reached, or refused the token: the cursor stays put."""


@dataclass
class Outcome:
    action: str  # a COUNTS key ("retry": update again from `version`; "postponed": held back)
    version: int | None = None
    reason: str | None = None
    deferred: bool = False  # sent, but some links wait for their targets


@dataclass
class _Page:
    """A page of our feed on its way: what it sends, in batch requests (`parts`), and
    `answers`, each a call that returns the answer of its part once it came back."""

    changes: list[dict[str, Any]]
    cursor: Cursor | None
    postpone: bool
    direct: list[tuple[dict[str, Any], uuid.UUID, PushedEntry | None, Outcome | None]] = \
        field(default_factory=list)
    sending: list[tuple[dict[str, Any], uuid.UUID, PushedEntry | None, dict[str, Any],
                        int | None]] = field(default_factory=list)
    parts: list[list[tuple[uuid.UUID, dict[str, Any], int | None]]] = \
        field(default_factory=list)
    answers: list[Callable[[], requests.Response]] = field(default_factory=list)


@dataclass
class PushResult:
    counts: dict[str, int]
    report: list[str]
    sheet_counts: dict[str, int] | None = None


def version_of(response: requests.Response) -> int | None:
    match = ETAG_RE.match(response.headers.get("ETag", "").strip())
    return int(match.group(1)) if match else None


def body_of(record: dict[str, Any], relations: list[dict[str, str]]) -> dict[str, Any]:
    body = {name: record.get(name) for name in BODY_FIELDS}
    body["tags"] = sorted(record.get("tags") or [])
    body["relations"] = [{"type": r["type"], "target": r["target"]} for r in relations]
    return body


class Pusher:
    def __init__(self, remote: Remote, *, as_name: str, name: str,
                 progress: Callable[[int], None] | None = None, wait: float = 30.0) -> None:
        self.remote = remote
        self.wait = wait
        self.as_name = as_name
        self.name = name
        self.progress = progress or (lambda _n: None)
        self.counts: Counter[str] = Counter(dict.fromkeys(COUNTS, 0))
        self.report: list[str] = []
        self.sheet_counts: Counter[str] = Counter()

    # -- the run ---------------------------------------------------------------------------------

    def run(self) -> PushResult:
        self.state = sync_state("push", self.remote.base_url, self.name)  # commits
        pulled = db.session.scalar(select(SyncState.name).where(
            SyncState.direction == "pull", SyncState.url == self.remote.base_url))
        self.pulled_as = f"remote:{pulled}" if pulled else None
        for blocker in wait_for_horizon(self.wait):
            self.report.append(f"waiting: {blocker} is older than this push; the changes "
                               "committed after it start go with the next push")
        try:
            self.batch: bool | None = None  # asked when there is something to send
            self._retry_refused()
            start = decode_cursor(self.state.cursor) if self.state.cursor else None
            with ThreadPoolExecutor(max_workers=IN_FLIGHT,
                                    thread_name_prefix="push-sender") as senders:
                flight: deque[_Page] = deque()
                try:
                    # Each page of our feed read while the one before is sent
                    # (app/sync/ahead.py); its batch requests sent while the page before
                    # is settled.
                    for rows in ahead(lambda: self._feed(start), "push-reader"):
                        if rows and self._batching():
                            page = self._prepare([change for change, _, _ in rows],
                                                 Cursor(FEED_SORT, rows[-1][1:]),
                                                 postpone=True)
                            page.answers = [senders.submit(self._post_batch, part).result
                                            for part in page.parts]
                            flight.append(page)
                            while len(flight) > 1:
                                self._settle(flight.popleft())
                            continue
                        while flight:
                            self._settle(flight.popleft())
                        for change, xid, entry_id in rows:
                            self._push(change, Cursor(FEED_SORT, (xid, entry_id)))
                            self.progress(1)
                    while flight:
                        self._settle(flight.popleft())
                finally:
                    senders.shutdown(wait=True, cancel_futures=True)
            self._send_held_back()
            from .sheet_push import SheetPusher

            sheets = SheetPusher(self)
            self.sheet_counts = sheets.counts
            sheets.run()
            self.state.succeeded_at = datetime.now(UTC)
            db.session.commit()
        except RemoteError as exc:
            db.session.rollback()
            raise PushFailed(f"{exc} The cursor is kept: run the push again to resume.") \
                from None
        return PushResult(dict(self.counts), self.report, dict(self.sheet_counts))

    def _feed(self, cursor: Cursor | None) -> Iterator[list[tuple[dict[str, Any], int,
                                                                 uuid.UUID]]]:
        """Our feed after `cursor`, page by page, each change parsed (run ahead)."""
        while True:
            rows = self._changes_after(cursor)
            yield [(orjson.loads(text), xid, entry_id) for text, xid, entry_id in rows]
            if len(rows) < PAGE:
                return
            cursor = Cursor(FEED_SORT, rows[-1][1:])

    def _changes_after(self, cursor: Cursor | None) -> list[tuple[str, int, uuid.UUID]]:
        """Our own change feed, as /api/v1/changes serves it, with each row's position."""
        stmt = select(change_json(), Entry.change_xid, Entry.id).where(Entry.change_xid < HORIZON)
        if cursor is not None:
            xid, entry_id = cursor.values
            stmt = stmt.where(tuple_(Entry.change_xid, Entry.id) > tuple_(
                cast(literal(str(xid)), XID8()), cast(literal(str(entry_id)), UUID(as_uuid=True))))
        rows = db.session.execute(stmt.order_by(Entry.change_xid, Entry.id).limit(PAGE)).all()
        db.session.commit()  # end the read transaction: the horizon moves on between pages
        return [(str(text), int(xid), entry_id) for text, xid, entry_id in rows]

    def _send_held_back(self) -> None:
        """The entries held back for links to entries sent later, and those sent without
        such links: now that the rest is there, each once with its links. A cycle of
        links (each waiting for the other) is sent without some and completed by the
        next pass; passes stop when they no longer shrink what waits."""
        waiting = None
        for _ in range(3):
            tried = self._retry_refused(deferred_only=True)
            if not tried or (waiting is not None and tried >= waiting):
                return
            waiting = tried

    def _retry_refused(self, deferred_only: bool = False) -> int:
        """Entries the target refused before (or whose links waited): their current state.
        How many were tried."""
        stmt = select(PushedEntry.entry_id).where(PushedEntry.state_id == self.state.id,
                                                  PushedEntry.state == "refused")
        if deferred_only:
            stmt = stmt.where(PushedEntry.reason == DEFERRED)
        ids = list(db.session.scalars(stmt.order_by(PushedEntry.entry_id)))
        if ids and self._batching():
            for start in range(0, len(ids), PAGE):
                rows = db.session.execute(select(cast(change_json(), Text)).where(
                    Entry.id.in_(ids[start:start + PAGE])).order_by(Entry.id)).scalars()
                self._push_page([orjson.loads(row) for row in rows], None)
            return len(ids)
        for entry_id in ids:
            row = db.session.execute(select(cast(change_json(), Text))
                                     .where(Entry.id == entry_id)).scalar()
            if row is not None:
                self._push(orjson.loads(row), None)
        return len(ids)

    def _batching(self) -> bool:
        """Whether the target has the batch write, asked once: an empty batch is answered
        200 there, 405 (or 404) by an older instance, which then gets one request per
        entry."""
        if self.batch is None:
            response = self.remote.request("POST", BATCH_PATH, json={"items": []})
            self._fatal(response)
            self.batch = response.status_code == 200
        return self.batch

    # -- one entry -------------------------------------------------------------------------------

    def _push(self, change: dict[str, Any], cursor: Cursor | None) -> None:
        entry_id = uuid.UUID(change["id"])
        ledger = db.session.get(PushedEntry, (self.state.id, entry_id))
        if change["op"] == "upsert":
            outcome = self._upsert(entry_id, change["entry"], change.get("relations") or [],
                                   ledger)
        else:
            outcome = self._delete(entry_id, ledger)
        self._finish(change, entry_id, ledger, outcome)
        if cursor is not None:
            self.state.cursor = cursor.encode()
        db.session.commit()  # this entry and the cursor past it, together

    def _push_page(self, changes: list[dict[str, Any]], cursor: Cursor | None, *,
                   postpone: bool = False) -> None:
        """A page of changes: the upserts in batch requests, deletions one by one; the
        outcomes and the cursor past the page committed together. A push that stops
        half-way replays the page: what the target holds already is recognised (412 with
        the same content) and adopted, nothing is written twice. `postpone`: an entry
        refused only for links to entries the target does not have yet is held back
        (ledger: waiting for its links) and sent once, links included, at the end of the
        push (`_send_held_back`), rather than now without them and again later."""
        self._settle(self._prepare(changes, cursor, postpone=postpone))

    def _prepare(self, changes: list[dict[str, Any]], cursor: Cursor | None, *,
                 postpone: bool = False) -> _Page:
        """What a page sends: its ledger rows and pulled baselines read in two queries,
        its upserts cut into batch requests (`_settle` sends them unless `run` has)."""
        page = _Page(changes, cursor, postpone)
        ids = [uuid.UUID(change["id"]) for change in changes]
        ledgers = {row.entry_id: row for row in db.session.scalars(select(PushedEntry).where(
            PushedEntry.state_id == self.state.id, PushedEntry.entry_id.in_(ids)))}
        pulled = self._pulled_baselines(ids)
        for change, entry_id in zip(changes, ids, strict=True):
            ledger = ledgers.get(entry_id)
            if change["op"] != "upsert":
                page.direct.append((change, entry_id, ledger, None))
                continue
            echoed = self._pulled_from_target(entry_id, change["entry"],
                                              pulled.get(entry_id, {}))
            if echoed is not None:
                page.direct.append((change, entry_id, ledger, Outcome("unchanged", echoed)))
                continue
            body = body_of(change["entry"], change.get("relations") or [])
            page.sending.append((change, entry_id, ledger, body,
                                 ledger.remote_version if ledger is not None else None))
        page.parts = [[(entry_id, dict(body), known)
                       for _, entry_id, _, body, known in page.sending[start:start + BATCH]]
                      for start in range(0, len(page.sending), BATCH)]
        return page

    def _settle(self, page: _Page) -> None:
        """A page's outcomes, in its order, then the cursor past it, committed together:
        the cursor only passes batches whose answers all came back."""
        for change, entry_id, ledger, outcome in page.direct:
            self._finish(change, entry_id, ledger,
                         outcome if outcome is not None else self._delete(entry_id, ledger))
        for number, items in enumerate(page.parts):
            response = (page.answers[number]() if page.answers
                        else self._post_batch(items))
            outcomes = self._read_batch(items, response, postpone=page.postpone)
            part = page.sending[number * BATCH:(number + 1) * BATCH]
            for (change, entry_id, ledger, body, _), outcome in zip(part, outcomes,
                                                                    strict=True):
                if outcome.action == "retry":  # as _upsert: from the version it has
                    outcome = self._put(entry_id, body, outcome.version)
                    if outcome.action == "retry":  # pragma: no cover - a second 412
                        outcome = Outcome("conflicts", reason="the target keeps changing; "
                                                              "try again")
                self._finish(change, entry_id, ledger, outcome)
        if page.cursor is not None:
            self.state.cursor = page.cursor.encode()
        db.session.commit()
        if page.cursor is not None:
            self.progress(len(page.changes))

    def _post_batch(self, items: list[tuple[uuid.UUID, dict[str, Any], int | None]]
                    ) -> requests.Response:
        """One batch request (app/api/batch_writes.py), each item as `_put` sends it.
        Touches no database: run from the sending threads too."""
        payload = {"items": [
            {"id": str(entry_id), "source": f"remote:{self.as_name} {entry_id}",
             "entry": body, **({"if_match": f'"v{known}"'} if known is not None
                               else {"if_none_match": "*"})}
            for entry_id, body, known in items]}
        return self.remote.request("POST", BATCH_PATH, data=orjson.dumps(payload),
                                   headers={"Content-Type": "application/json"})

    def _put_many(self, items: list[tuple[uuid.UUID, dict[str, Any], int | None]],
                  deferred: list[bool] | None = None, postpone: bool = False
                  ) -> list[Outcome]:
        """`_post_batch`, then its answer read (`_read_batch`)."""
        return self._read_batch(items, self._post_batch(items), deferred, postpone)

    def _read_batch(self, items: list[tuple[uuid.UUID, dict[str, Any], int | None]],
                    response: requests.Response, deferred: list[bool] | None = None,
                    postpone: bool = False) -> list[Outcome]:
        """A batch request's answers, each read as `_put` reads its own. Items refused
        only for links to entries the target does not have yet go again in a second
        request, as `_put` would have sent them one after the other: without those links
        (deferred), but with them when the missing targets are items sent before them in
        that request; with `postpone`, they are not sent again but held back (see
        `_push_page`)."""
        self._fatal(response)
        answers = _json(response).get("items")
        if response.status_code != 200 or not isinstance(answers, list) \
                or len(answers) != len(items):
            raise RemoteError(f"{self.remote.base_url}: the batch write answered "
                              f"{response.status_code}: {problem_detail(response)}")
        outcomes: list[Outcome | None] = []
        again: list[tuple[uuid.UUID, dict[str, Any], int | None]] = []
        later: list[bool] = []
        coming: set[str] = set()
        for index, ((entry_id, body, known), answer) in enumerate(zip(items, answers,
                                                                     strict=True)):
            errors = answer.get("errors") or []
            if deferred is None and answer.get("status") == 422 and errors and all(
                    RELATION_TARGET.match(str(e.get("name"))) for e in errors):
                if postpone:
                    outcomes.append(Outcome("postponed", deferred=True))
                    continue
                missing = {int(str(e["name"]).split(".")[1]) for e in errors}
                if all(r["target"] in coming for i, r in enumerate(body["relations"])
                       if i in missing):
                    again.append((entry_id, body, known))
                    later.append(False)
                else:
                    again.append((entry_id, {**body, "relations": [
                        r for i, r in enumerate(body["relations"]) if i not in missing]},
                        known))
                    later.append(True)
                coming.add(str(entry_id))
                outcomes.append(None)
                continue
            outcomes.append(self._answered(entry_id, body, known, answer,
                                           bool(deferred and deferred[index])))
        if again:
            resent = iter(self._put_many(again, deferred=later))
            outcomes = [o if o is not None else next(resent) for o in outcomes]
        return [o for o in outcomes if o is not None]

    def _answered(self, entry_id: uuid.UUID, body: dict[str, Any], known: int | None,
                  answer: dict[str, Any], deferred: bool) -> Outcome:
        """One item's answer, read as `_put` reads a PUT's."""
        status, version = answer.get("status"), answer.get("version")
        document = answer.get("problem") if isinstance(answer.get("problem"), dict) else {}
        if status == 412:
            return self._reconcile_with(entry_id, body, document, version)
        plain = _plain_outcome(status, version, known, deferred)
        if plain is not None:
            return plain
        params = document.get("invalid-params") or []
        detail = ("; ".join(f"{p.get('name')}: {p.get('reason')}" for p in params)
                  or str(document.get("detail") or document.get("title") or document))
        return Outcome("refused", reason=f"{status} {detail[:300]}")

    def _finish(self, change: dict[str, Any], entry_id: uuid.UUID,
                ledger: PushedEntry | None, outcome: Outcome) -> None:
        """Count and report an entry's outcome and record it in the push's ledger (an
        entry held back is counted when it is sent)."""
        if outcome.action != "postponed":
            self.counts[outcome.action] += 1
        if outcome.action in ("refused", "conflicts"):
            label = "conflict" if outcome.action == "conflicts" else "refused"
            slug = (change.get("entry") or {}).get("slug") or "(deleted)"
            self.report.append(f"{label} {slug} {entry_id}: {outcome.reason}")
        self._record(entry_id, ledger, outcome)

    def _record(self, entry_id: uuid.UUID, ledger: PushedEntry | None, outcome: Outcome) -> None:
        if outcome.action == "unchanged" and outcome.version is None and ledger is None:
            return  # nothing was ever sent for it (a deletion of an entry never pushed)
        if ledger is None:
            ledger = PushedEntry(state_id=self.state.id, entry_id=entry_id, state="sent")
            db.session.add(ledger)
        if outcome.action in ("refused", "conflicts"):
            ledger.state, ledger.reason = "refused", outcome.reason
        elif outcome.action == "deleted":
            ledger.state, ledger.reason, ledger.remote_version = "deleted", None, None
        elif outcome.deferred:
            ledger.state, ledger.reason = "refused", DEFERRED
        else:
            ledger.state, ledger.reason = "sent", None
        if outcome.version is not None:
            ledger.remote_version = outcome.version
        ledger.updated_at = datetime.now(UTC)

    def _headers(self, entry_id: uuid.UUID, **more: str) -> dict[str, str]:
        return {"X-Atlas-Source": f"remote:{self.as_name} {entry_id}", **more}

    def _upsert(self, entry_id: uuid.UUID, record: dict[str, Any],
                relations: list[dict[str, str]], ledger: PushedEntry | None) -> Outcome:
        echoed = self._pulled_from_target(entry_id, record)
        if echoed is not None:
            return Outcome("unchanged", echoed)
        known = ledger.remote_version if ledger is not None else None
        outcome = self._put(entry_id, body_of(record, relations), known)
        if outcome.action == "retry":
            # The target holds our earlier write less some links (sent without them while
            # their targets were missing): update it from the version it has.
            outcome = self._put(entry_id, body_of(record, relations), outcome.version)
            if outcome.action == "retry":  # pragma: no cover - a second 412 in a row
                outcome = Outcome("conflicts", reason="the target keeps changing; try again")
        return outcome

    def _pulled_baselines(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        """The pull baselines (source attributes) of entries pulled from the target, by id."""
        if self.pulled_as is None or not ids:
            return {}
        return {entry_id: attrs or {} for entry_id, external_id, attrs in db.session.execute(
            select(Source.entry_id, Source.external_id, Source.attributes).where(
                Source.origin == self.pulled_as,
                Source.external_id.in_([str(i) for i in ids]),
                Source.entry_id.in_(ids))) if external_id == str(entry_id)}

    def _pulled_from_target(self, entry_id: uuid.UUID, record: dict[str, Any],
                            baseline: dict[str, Any] | None = None) -> int | None:
        """The target's version of an entry pulled from the target itself and unchanged here
        since (its source's baseline is at the entry's version): sending it back would only
        echo it, so its version there is taken as acknowledged. None otherwise."""
        if self.pulled_as is None:
            return None
        attrs = baseline if baseline is not None else db.session.scalar(
            select(Source.attributes).where(
                Source.origin == self.pulled_as, Source.external_id == str(entry_id),
                Source.entry_id == entry_id)) or {}
        if attrs.get("linked") or attrs.get("local_version") != record.get("version"):
            return None
        version = attrs.get("remote_version")
        return version if isinstance(version, int) else None

    def _put(self, entry_id: uuid.UUID, body: dict[str, Any], known: int | None) -> Outcome:
        """One PUT: If-Match the version the target acknowledged, else If-None-Match: *."""
        condition = ({"If-Match": f'"v{known}"'} if known is not None
                     else {"If-None-Match": "*"})
        path = f"/api/v1/entries/{entry_id}"
        response = self.remote.request("PUT", path, json=body,
                                       headers=self._headers(entry_id, **condition))
        deferred = False
        if response.status_code == 422 and _only_relation_targets(response):
            # Links to entries the target does not have yet: send without them now.
            missing = _missing_relations(response)
            body = {**body, "relations": [r for i, r in enumerate(body["relations"])
                                          if i not in missing]}
            response = self.remote.request("PUT", path, json=body,
                                           headers=self._headers(entry_id, **condition))
            deferred = True
        status = response.status_code
        self._fatal(response)
        if status == 412:
            return self._reconcile(entry_id, body, response)
        plain = _plain_outcome(status, version_of(response) if status in (200, 201) else None,
                               known, deferred)
        if plain is not None:
            return plain
        return Outcome("refused", reason=f"{status} {problem_detail(response)}")

    def _reconcile(self, entry_id: uuid.UUID, body: dict[str, Any],
                   refusal: requests.Response) -> Outcome:
        """A 412: does the target already hold what we send (a replayed write whose answer
        was lost, an entry it has already)? Then its version is adopted. Anything else it
        holds is not overwritten. A target that sends its entry with the 412 spares the
        GETs."""
        return self._reconcile_with(entry_id, body, _json(refusal), version_of(refusal))

    def _reconcile_with(self, entry_id: uuid.UUID, body: dict[str, Any],
                        given: dict[str, Any], version: int | None) -> Outcome:
        """_reconcile from the refusal's problem document and version."""
        if isinstance(given.get("entry"), dict) and isinstance(given.get("relations"), list):
            return self._compare(body, given["entry"], given["relations"], version)
        theirs = self.remote.request("GET", f"/api/v1/entries/{entry_id}")
        self._fatal(theirs)
        if theirs.status_code == 410:
            return Outcome("refused", reason="deleted on the target: not re-created")
        if theirs.status_code != 200:
            return Outcome("refused", reason=f"the target answers {theirs.status_code} to "
                                             f"GET: {problem_detail(theirs)}")
        links = self.remote.request("GET", f"/api/v1/entries/{entry_id}/relations")
        self._fatal(links)
        outgoing = [{"type": i["type"], "target": i["entry"]["id"]}
                    for i in (links.json().get("items") or []) if i.get("direction") == "out"] \
            if links.status_code == 200 else []
        return self._compare(body, theirs.json(), outgoing, version_of(theirs))

    def _compare(self, body: dict[str, Any], record: dict[str, Any],
                 outgoing: list[dict[str, Any]], version: int | None) -> Outcome:
        # A target that knows one of our link targets under its own id names ours among
        # that target's aliases: read it as ours.
        ours = {r["target"] for r in body["relations"]}
        outgoing = [{"type": r["type"], "target": next(
            (a for a in r.get("aliases") or [] if a in ours), r["target"])}
            for r in outgoing]
        mine = C.from_record(body, body["relations"])
        there = C.from_record(record, outgoing)
        differ = C.differing(mine, there)
        if not differ:
            return Outcome("unchanged", version)
        if differ == ["relations"] and _subset(there["relations"], mine["relations"]):
            return Outcome("retry", version)
        return Outcome("conflicts", reason="changed on the target since our last push "
                       f"({', '.join(differ)}): not overwritten")

    def _delete(self, entry_id: uuid.UUID, ledger: PushedEntry | None) -> Outcome:
        if ledger is None or ledger.remote_version is None:
            return Outcome("unchanged")  # never there: nothing to delete
        response = self.remote.request(
            "DELETE", f"/api/v1/entries/{entry_id}",
            headers=self._headers(entry_id, **{"If-Match": f'"v{ledger.remote_version}"'}))
        self._fatal(response)
        if response.status_code in (204, 404, 410):
            return Outcome("deleted")
        if response.status_code == 412:
            current = self.remote.request("GET", f"/api/v1/entries/{entry_id}")
            self._fatal(current)
            if current.status_code in (404, 410):
                return Outcome("deleted")
            return Outcome("conflicts", reason="changed on the target since our last push: "
                                               "not deleted")
        return Outcome("refused", reason=f"{response.status_code} "
                                         f"{problem_detail(response)}")

    def _fatal(self, response: requests.Response) -> None:
        """A refused token stops the push: nothing else would get through either."""
        if response.status_code in (401, 403):
            raise RemoteError(f"{self.remote.base_url} refuses the token "
                              f"({response.status_code}): {problem_detail(response)}")


DEFERRED = "links waiting for their targets to be sent"


def _subset(small: list[dict[str, str]], large: list[dict[str, str]]) -> bool:
    return {(r["type"], r["target"]) for r in small} <= {(r["type"], r["target"])
                                                          for r in large}


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = orjson.loads(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}



def _plain_outcome(status: int | None, version: int | None, known: int | None,
                   deferred: bool) -> Outcome | None:
    """What a write's status says by itself, read the same for a PUT and a batch item;
    None when the caller must look further (a 412, a refusal's details)."""
    if status == 201:
        return Outcome("created", version, deferred=deferred)
    if status == 200:
        return Outcome("unchanged" if version == known else "updated", version,
                       deferred=deferred)
    if status == 404 and known is not None:
        return Outcome("refused", reason="not found on the target any more (withdrawn "
                                         "there?)")
    if status == 410:
        return Outcome("refused", reason="deleted on the target: not re-created (restore "
                                         "it there to receive it again)")
    return None

def _only_relation_targets(response: requests.Response) -> bool:
    try:
        params = response.json().get("invalid-params") or []
    except ValueError:
        return False
    return bool(params) and all(RELATION_TARGET.match(str(p.get("name"))) for p in params)


def _missing_relations(response: requests.Response) -> set[int]:
    return {int(str(p["name"]).split(".")[1])
            for p in response.json().get("invalid-params") or []}
