"""The sheets' part of `flask sync push`: our published sheets to another instance.

After the entries, the pusher follows our own sheets' feed (app/query/changes.py,
SHEET_FEED) from `sync_states.sheet_cursor`, and for each sheet sends `PUT
/api/v1/evaluations/<uuid>` (If-None-Match: * the first time, then If-Match the version
the target answered last, kept in `sync_pushed_sheets`) or, for a tombstone of a sheet
it sent, `DELETE` with If-Match. A 412 is reconciled as for entries: the target
already holding what we send (our own write whose answer was lost, or a twin it
linked) is adopted; anything else it holds is not overwritten but reported. A sheet
whose entry the target does not have (yet) is refused and tried again next time.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import Text, cast, select

from ..extensions import db
from ..formats.sheet_changes import in_feed, sheet_change_json
from ..models import Evaluation, PushedSheet
from ..query.changes import HORIZON, SHEET_FEED, after, decode_cursor
from ..query.paging import Cursor
from . import sheets as S
from .client import problem_detail

if TYPE_CHECKING:
    from .push import Pusher

PAGE = 200


class _NoSheetsApi(Exception):
    pass


class SheetPusher:
    def __init__(self, pusher: Pusher) -> None:
        self.pusher = pusher
        self.remote = pusher.remote
        self.state = pusher.state
        self.counts: Counter[str] = Counter()
        self.supported: bool | None = None

    def run(self) -> None:
        try:
            self._run()
        except _NoSheetsApi:  # an instance older than the sheets' API: the cursor waits
            db.session.rollback()
            self.pusher.report.append("sheets not sent: the target has no sheets' API "
                                      "(/api/v1/evaluations); they go once it has one")

    def _run(self) -> None:
        self._retry_refused()
        cursor = (decode_cursor(self.state.sheet_cursor, feed=SHEET_FEED)
                  if self.state.sheet_cursor else None)
        while True:
            stmt = select(sheet_change_json(), SHEET_FEED.xid, SHEET_FEED.id).where(
                SHEET_FEED.xid < HORIZON, in_feed())
            if cursor is not None:
                stmt = stmt.where(after(cursor, SHEET_FEED))
            rows = db.session.execute(stmt.order_by(SHEET_FEED.xid, SHEET_FEED.id)
                                      .limit(PAGE)).all()
            db.session.commit()  # the horizon moves on between pages
            for text, xid, sheet_id in rows:
                cursor = Cursor(SHEET_FEED.sort, (int(xid), sheet_id))
                self._push(orjson.loads(text))
                self.state.sheet_cursor = cursor.encode()
                db.session.commit()  # this sheet and the cursor past it, together
            if len(rows) < PAGE:
                return

    def _retry_refused(self) -> None:
        ids = list(db.session.scalars(select(PushedSheet.evaluation_id).where(
            PushedSheet.state_id == self.state.id, PushedSheet.state == "refused")
            .order_by(PushedSheet.evaluation_id)))
        for sheet_id in ids:
            text = db.session.scalar(select(cast(sheet_change_json(), Text))
                                     .where(Evaluation.id == sheet_id))
            if text is not None:
                self._push(orjson.loads(text))
                db.session.commit()

    def _check_target(self) -> None:
        """Once per push, before the first sheet: does the target take sheets?"""
        if self.supported is None:
            probe = self.remote.request("GET", "/api/v1/evaluations", params={"limit": 1})
            self.supported = probe.status_code != 404
        if not self.supported:
            raise _NoSheetsApi

    def _push(self, change: dict[str, Any]) -> None:
        self._check_target()
        sheet_id = uuid.UUID(change["id"])
        ledger = db.session.get(PushedSheet, (self.state.id, sheet_id))
        if change["op"] == "upsert":
            action, version, reason = self._upsert(sheet_id, change["sheet"], ledger)
        else:
            action, version, reason = self._delete(sheet_id, ledger)
        self.counts[action] += 1
        if reason:
            label = "conflict" if action == "conflicts" else "refused"
            self.pusher.report.append(f"{label} sheet {sheet_id}: {reason}")
        if action == "unchanged" and version is None and ledger is None:
            return
        if ledger is None:
            ledger = PushedSheet(state_id=self.state.id, evaluation_id=sheet_id, state="sent")
            db.session.add(ledger)
        if action in ("refused", "conflicts"):
            ledger.state, ledger.reason = "refused", reason
        elif action == "deleted":
            ledger.state, ledger.reason, ledger.remote_version = "deleted", None, None
        else:
            ledger.state, ledger.reason = "sent", None
        if version is not None:
            ledger.remote_version = version
        ledger.updated_at = datetime.now(UTC)

    def _headers(self, sheet_id: uuid.UUID, **more: str) -> dict[str, str]:
        return {"X-Atlas-Source": f"remote:{self.pusher.as_name} {sheet_id}", **more}

    def _upsert(self, sheet_id: uuid.UUID, sheet: dict[str, Any],
                ledger: PushedSheet | None) -> tuple[str, int | None, str | None]:
        from .push import version_of

        known = ledger.remote_version if ledger is not None else None
        body = {"entry_id": sheet["entry_id"], "title": sheet["title"],
                "held_on": sheet["held_on"], "authors": sheet["authors"],
                "state": "published", "answers": sheet["answers"]}
        condition = ({"If-Match": f'"v{known}"'} if known is not None
                     else {"If-None-Match": "*"})
        response = self.remote.request("PUT", f"/api/v1/evaluations/{sheet_id}", json=body,
                                       headers=self._headers(sheet_id, **condition))
        self.pusher._fatal(response)
        status = response.status_code
        if status == 201:
            return "created", version_of(response), None
        if status == 200:
            version = version_of(response)
            return ("unchanged" if version == known else "updated"), version, None
        if status == 412:
            given = response.json() if response.headers.get("Content-Type", "").endswith(
                "json") else {}
            if isinstance(given.get("sheet"), dict):
                return self._same(body, given["sheet"], version_of(response))
            return self._reconcile(sheet_id, body)
        return "refused", None, f"{status} {problem_detail(response)}"

    def _reconcile(self, sheet_id: uuid.UUID, body: dict[str, Any]
                   ) -> tuple[str, int | None, str | None]:
        from .push import version_of

        theirs = self.remote.request("GET", f"/api/v1/evaluations/{sheet_id}")
        self.pusher._fatal(theirs)
        if theirs.status_code != 200:
            return "refused", None, (f"the target answers {theirs.status_code}: "
                                     f"{problem_detail(theirs)}")
        return self._same(body, theirs.json(), version_of(theirs))

    def _same(self, body: dict[str, Any], theirs: dict[str, Any], version: int | None
              ) -> tuple[str, int | None, str | None]:
        if S.from_record(body) == S.from_record({**theirs, "state": "published"}):
            return "unchanged", version, None
        return "conflicts", None, "changed on the target since our last push: not overwritten"

    def _delete(self, sheet_id: uuid.UUID, ledger: PushedSheet | None
                ) -> tuple[str, int | None, str | None]:
        if ledger is None or ledger.remote_version is None:
            return "unchanged", None, None  # never there: nothing to delete
        response = self.remote.request(
            "DELETE", f"/api/v1/evaluations/{sheet_id}",
            headers=self._headers(sheet_id, **{"If-Match": f'"v{ledger.remote_version}"'}))
        self.pusher._fatal(response)
        if response.status_code in (204, 404, 410):
            return "deleted", None, None
        if response.status_code == 412:
            return "conflicts", None, "changed on the target since our last push: not deleted"
        return "refused", None, f"{response.status_code} {problem_detail(response)}"
