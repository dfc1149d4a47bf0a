"""The evaluation sheets of a sync, both ways: the content compared, and the pull.

`flask sync pull` follows the remote's sheets' feed (/api/v1/evaluations) after its
entries' feed, with the same guarantees: the remote's ids are kept, each page is
applied with its cursor (`sync_states.sheet_cursor`) in one transaction, and the one
three-way rule (app/services/threeway.py) decides field by field, an answer's
strengths, limits and stakes each a field: a text an editor wrote here since the
last pull is never overwritten; where the remote changed it too, the local text stays
and the difference is reported as a conflict. A sheet goes to the local twin of its
entry (its id here, an alias, or the entry this remote's entry became); a sheet
already here under another id (an alias, or the same entry, title and meeting date)
is linked, not created twice. A tombstone deletes a sheet only if it came from that
remote and nobody changed it here since. Each sheet keeps its origin in
`sheet_sources` and its revisions name the sync as their author.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..extensions import db
from ..models import Entry, Evaluation, SheetSource, Source
from ..normalise import clean_text
from ..services.errors import ConflictError, WriteValidationError
from ..services.evaluations import (
    ANSWER_FIELDS,
    delete_evaluation,
    evaluation_keys,
    restore_evaluation,
    save_evaluation,
)
from ..services.link_reasons import link_reason
from ..services.links import find_sheet, link, local_entry, record_sheet_source, sheet_twin
from ..services.runs import Problem
from ..services.source_detach import entry_detached_from
from ..services.threeway import merge
from .client import RemoteError, problem_detail

if TYPE_CHECKING:
    from .pull import Puller

SHEET_COUNTS = ("created", "updated", "unchanged", "linked", "deleted", "conflicts",
                "rejected", "skipped")
SHEET_FIELDS = ("title", "held_on", "authors", "state")


# -- content ---------------------------------------------------------------------------------

def from_record(record: dict[str, Any]) -> dict[str, Any]:
    """A sheet's content from its public record (the feed's `sheet`, an API answer)."""
    answers = {}
    for item in record.get("answers") or []:
        if isinstance(item, dict) and isinstance(item.get("key"), str):
            answers[item["key"]] = {name: _text(item.get(name)) for name in ANSWER_FIELDS}
    return {"title": _text(record.get("title")), "held_on": str(record.get("held_on")),
            "authors": _text(record.get("authors")),
            "state": record.get("state") or "published", "answers": answers}


def from_sheet(sheet: Evaluation) -> dict[str, Any]:
    return {"title": sheet.title, "held_on": sheet.held_on.isoformat(),
            "authors": sheet.authors, "state": sheet.state,
            "answers": {a.key_slug: {name: getattr(a, name) for name in ANSWER_FIELDS}
                        for a in sheet.answers}}


def _text(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


def flat(content: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """One value per field, an answer's parts each a field ("answers/governance/limits"),
    every key of the grid present: the three-way rule's form."""
    out = {name: content.get(name) for name in SHEET_FIELDS}
    answers = content.get("answers") or {}
    for key in sorted(set(keys) | set(answers)):
        for name in ANSWER_FIELDS:
            out[f"answers/{key}/{name}"] = (answers.get(key) or {}).get(name)
    return out


def unflat(values: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = {name: values.get(name) for name in SHEET_FIELDS}
    answers: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        if name.startswith("answers/"):
            _, key, part = name.split("/", 2)
            answers.setdefault(key, {})[part] = value
    content["answers"] = {k: v for k, v in answers.items() if any(x is not None
                                                                  for x in v.values())}
    return content


# -- the pull ---------------------------------------------------------------------------------

class SheetPuller:
    """The sheets' part of a pull, on the entries' puller's remote, origin and report."""

    def __init__(self, puller: Puller) -> None:
        self.puller = puller
        self.origin = puller.origin
        self.author = puller.author
        self.counts: Counter[str] = Counter()
        self.keys = [k.slug for k in evaluation_keys()]

    def run(self, state: Any) -> None:
        cursor = state.sheet_cursor
        while True:
            params: dict[str, Any] = {"limit": self.puller.page_size}
            if cursor:
                params["since"] = cursor
            response = self.puller.remote.request("GET", "/api/v1/evaluations", params=params)
            if response.status_code == 404:
                # An instance older than the sheets' feed: its entries are all we can take.
                self.puller.ledger.note(Problem(
                    "warning", "the remote has no sheets' feed (/api/v1/evaluations): its "
                    "evaluation sheets are not pulled", field="sheets"))
                return
            if response.status_code != 200:
                raise RemoteError(f"GET /api/v1/evaluations: {response.status_code} "
                                  f"{problem_detail(response)}")
            try:
                page = response.json()
            except ValueError:
                raise ValueError("the sheets' feed answered with something else than "
                                 "JSON") from None
            try:
                changes, cursor, more = (list(page["changes"]), str(page["next_cursor"]),
                                         bool(page["has_more"]))
            except (KeyError, TypeError):
                raise ValueError("the sheets' feed answered without changes, next_cursor "
                                 "and has_more") from None
            for change in changes:
                self._apply(change)
            state.sheet_cursor = cursor
            db.session.commit()  # the page and its cursor, together
            self.puller.ledger.checkpoint()
            if not more:
                return

    def _note(self, kind: str, reason: str, sheet_id: Any, count: str, **more: Any) -> None:
        """A report line about a sheet, in the pull's report, counted among the sheets."""
        self.puller.ledger.report.append(Problem(
            kind, f"sheet: {reason}", external_id=str(sheet_id), **more).as_dict())
        self.counts[count] += 1

    def _apply(self, change: dict[str, Any]) -> None:
        try:
            sheet_id = uuid.UUID(str(change["id"]))
            op = change["op"]
        except (KeyError, ValueError, TypeError):
            raise ValueError(f"a sheet change without a valid op and id: "
                             f"{str(change)[:200]}") from None
        source = db.session.scalar(select(SheetSource).where(
            SheetSource.origin == self.origin, SheetSource.external_id == str(sheet_id)))
        sheet = (db.session.get(Evaluation, source.evaluation_id) if source is not None
                 else find_sheet(sheet_id))
        if op == "delete":
            self._delete(sheet_id, sheet, source)
        elif op == "upsert" and isinstance(change.get("sheet"), dict):
            self._upsert(sheet_id, sheet, source, change)
        else:
            raise ValueError(f"unknown sheet op {op!r} for {sheet_id}")

    def _entry(self, remote_entry_id: Any) -> Entry | None:
        """The local twin of the remote's entry: its id or an alias here, or the entry the
        remote's entry became here (its source)."""
        entry = local_entry(remote_entry_id)
        if entry is None:
            entry = db.session.scalar(select(Entry).join(Source).where(
                Source.origin == self.origin, Source.external_id == str(remote_entry_id)))
        return entry if entry is not None and entry.deleted_at is None else None

    def _upsert(self, sheet_id: uuid.UUID, sheet: Evaluation | None,
                source: SheetSource | None, change: dict[str, Any]) -> None:
        record = change["sheet"]
        incoming = from_record(record)
        remote_entry = change.get("entry_id") or record.get("entry_id")
        if str(remote_entry) in self.puller.detached:
            self._note("skipped", "its entry was detached from this remote here by an "
                       "editor", sheet_id, "skipped", entry=str(remote_entry))
            return
        entry = self._entry(remote_entry)
        if entry is None:
            self._note("skipped", "its entry is not here (rejected or deleted here); the "
                       "sheet comes with the entry's next change", sheet_id, "skipped",
                       entry=str(change.get("entry_id")))
            return
        if sheet is None:
            for alias in change.get("aliases") or []:
                sheet = find_sheet(alias)
                if sheet is not None:
                    reason = link_reason("known_sheet", id=str(alias))
                    break
            else:
                sheet = sheet_twin(entry.id, incoming["title"] or "",
                                   date.fromisoformat(incoming["held_on"]),
                                   not_from=self.origin)
                reason = link_reason("same_sheet")
            if sheet is not None:
                link("evaluation", sheet_id, sheet.id, origin=self.origin, reason=reason)
                self._adopt(sheet, sheet_id, incoming, record, linked=True)
                self.counts["linked"] += 1
                return
            written = self._write(entry, None, incoming, sheet_id)
            if written is not None:
                self._remember(written, sheet_id, incoming, record)
                self.counts["created"] += 1
            return
        if source is None:  # here under this id or an alias, not from this remote
            self._adopt(sheet, sheet_id, incoming, record, linked=True)
            self.counts["linked"] += 1
            return
        self._update(sheet, sheet_id, source, incoming, record)

    def _write(self, entry: Entry, sheet: Evaluation | None, content: dict[str, Any],
               sheet_id: uuid.UUID) -> Evaluation | None:
        try:
            return save_evaluation(entry, sheet, content, author=self.author,
                                   expected_version=sheet.version if sheet else None,
                                   comment=f"Pulled from {self.puller.name}", commit=False,
                                   evaluation_id=sheet_id if sheet is None else None
                                   ).evaluation
        except WriteValidationError as exc:
            self._note("rejected", str(exc), sheet_id, "rejected", entry=entry.slug)
        except ConflictError as exc:
            self._note("conflict", str(exc), sheet_id, "conflicts", entry=entry.slug)
        return None

    def _remember(self, sheet: Evaluation, sheet_id: uuid.UUID, incoming: dict[str, Any],
                  record: dict[str, Any], *, applied: dict[str, Any] | None = None,
                  local_version: int | None = -1, **more: Any) -> None:
        """The next baseline: what was pulled, what it became here, at which version (by
        default the sheet as it is now: nobody changed it here)."""
        attributes = {"remote": incoming,
                      "applied": applied if applied is not None else from_sheet(sheet),
                      "local_version": sheet.version if local_version == -1 else local_version,
                      "remote_version": record.get("version"),
                      "url": self.puller.remote.base_url, **more}
        record_sheet_source(sheet, self.origin, str(sheet_id), attributes)

    def _adopt(self, sheet: Evaluation, sheet_id: uuid.UUID, incoming: dict[str, Any],
               record: dict[str, Any], *, linked: bool) -> None:
        """A sheet already here stands for the remote's: it follows the remote from now on,
        but where it differs today its values read as written here, and are kept."""
        same = flat(from_sheet(sheet), self.keys) == flat(incoming, self.keys)
        self._remember(sheet, sheet_id, incoming, record, applied=incoming,
                       local_version=sheet.version if same else None, linked=linked)

    def _update(self, sheet: Evaluation, sheet_id: uuid.UUID, source: SheetSource,
                incoming: dict[str, Any], record: dict[str, Any]) -> None:
        attrs = dict(source.attributes or {})
        if sheet.deleted_at is not None:
            if attrs.get("deleted_by_remote") and attrs.get("local_version") == sheet.version:
                restore_evaluation(sheet, expected_version=sheet.version, author=self.author,
                                   comment=f"Restored by {self.puller.name}", commit=False)
                attrs["local_version"] = sheet.version
            else:
                self._note("skipped", "deleted here by an editor; not restored", sheet_id,
                           "skipped", entry=sheet.entry.slug)
                return
        current = flat(from_sheet(sheet), self.keys)
        last = flat(attrs.get("remote") or {}, self.keys)
        applied = flat(attrs.get("applied") or {}, self.keys)
        edited_here = attrs.get("local_version") != sheet.version
        outcome = merge(current, last, flat(incoming, self.keys),
                        applied=applied if edited_here else current)
        for name, here, theirs in outcome.conflicts:
            self.puller.ledger.report.append(Problem(
                "conflict", "sheet: changed here since the last pull and on the remote; "
                "the local value is kept", external_id=str(sheet_id), field=name,
                entry=sheet.entry.slug, details={"current": here, "incoming": theirs}
            ).as_dict())
        if outcome.conflicts:
            self.counts["conflicts"] += 1
        if outcome.changes:
            if self._write(sheet.entry, sheet, unflat({**current, **outcome.changes}),
                           sheet_id) is None:
                return
            self.counts["updated"] += 1
        else:
            self.counts["unchanged"] += 1
        more = {"linked": True} if attrs.get("linked") else {}
        if edited_here:
            # What the editor wrote stays theirs: the baseline moves only where we wrote.
            now = flat(from_sheet(sheet), self.keys)
            moved = unflat({**applied, **{name: now[name] for name in outcome.changes}})
            self._remember(sheet, sheet_id, incoming, record, applied=moved,
                           local_version=attrs.get("local_version"), **more)
        else:
            self._remember(sheet, sheet_id, incoming, record, **more)

    def _delete(self, sheet_id: uuid.UUID, sheet: Evaluation | None,
                source: SheetSource | None) -> None:
        if sheet is None or sheet.deleted_at is not None:
            return
        if source is None or (source.attributes or {}).get("linked"):
            self._note("skipped", f"deleted or unpublished on {self.puller.name}, but the "
                       f"sheet here does not come from {self.puller.name}: kept", sheet_id,
                       "skipped", entry=sheet.entry.slug)
            return
        if entry_detached_from(self.origin, sheet.entry_id):
            self._note("skipped", f"deleted or unpublished on {self.puller.name}, but an "
                       f"editor detached its entry from {self.puller.name} here: kept",
                       sheet_id, "skipped", entry=sheet.entry.slug)
            return
        attrs = dict(source.attributes or {})
        if attrs.get("local_version") != sheet.version:
            self._note("conflict", f"deleted or unpublished on {self.puller.name}, but "
                       "changed here since the last pull: kept", sheet_id, "conflicts",
                       entry=sheet.entry.slug)
            return
        delete_evaluation(sheet, expected_version=sheet.version, author=self.author,
                          comment=f"Deleted or unpublished on {self.puller.name}",
                          commit=False)
        attrs.update(local_version=sheet.version, deleted_by_remote=True)
        source.attributes = attrs
        db.session.flush()
        self.counts["deleted"] += 1
