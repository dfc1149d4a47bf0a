"""The JSON route that open sheet pages poll (static/js/sheet-live.js): send the fields
changed since the last call, receive the others' changes and who else is on the sheet.

Polling, once a second, rather than server-sent events: each call is a short request, so
it passes any proxy unchanged and never holds a gunicorn worker (see docs/design.md).
Editors only (role_required) and a POST with the page's CSRF token in X-CSRFToken.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import abort, jsonify, request
from sqlalchemy import select
from werkzeug.wrappers import Response

from ..auth.roles import role_required
from ..extensions import db
from ..models import Entry, Evaluation
from ..services import live
from ..services.revisions import revision_at
from . import bp
from .entries import me


def _problem(status: int, field: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": message, "field": field}), status


def _saved_at(sheet_id: uuid.UUID, version: int, n: int) -> dict[str, str]:
    """The fields as saved at `version`: the base of a text restored from a browser draft
    (static/js/sheet-draft.js keeps the version the form was opened at, not each field's)."""
    revision = revision_at("evaluation", sheet_id, version)
    if revision is None:
        raise ValueError(f"changes[{n}].base_version: the sheet has no version {version}")
    return live.flat(revision.snapshot)


def _read(body: Any, sheet_id: uuid.UUID
          ) -> tuple[uuid.UUID, int, str | None, list[tuple[str, str, str]]]:
    """(client, since, focus, changes) of a call; ValueError naming the wrong part.

    A change gives the value it was typed from (`base`), or the version of the sheet it
    was typed from (`base_version`, a restored draft)."""
    if not isinstance(body, dict):
        raise ValueError("body: a JSON object is expected")
    try:
        client = uuid.UUID(str(body.get("client")))
    except ValueError:
        raise ValueError("client: a UUID is expected") from None
    since = body.get("since", 0)
    if not isinstance(since, int) or since < 0:
        raise ValueError("since: a whole number ≥ 0 is expected")
    focus = body.get("focus")
    if not body.get("changes") and focus is None:
        return client, since, None, []  # a plain poll: no field to check
    names = set(live.field_names())
    versions: dict[int, dict[str, str]] = {}
    if focus is not None and focus not in names:
        focus = None
    changes = []
    for n, change in enumerate(body.get("changes") or []):
        if not isinstance(change, dict):
            raise ValueError(f"changes[{n}]: an object is expected")
        field, base, value = change.get("field"), change.get("base"), change.get("value")
        if field not in names:
            raise ValueError(f"changes[{n}].field: unknown field {field!r}")
        if base is None and isinstance(change.get("base_version"), int):
            base = versions.setdefault(change["base_version"], _saved_at(
                sheet_id, change["base_version"], n)).get(field, "")
        if not isinstance(base, str) or not isinstance(value, str):
            raise ValueError(f"changes[{n}] ({field}): base and value must be strings")
        if len(value) > live.MAX_VALUE or len(base) > live.MAX_VALUE:
            raise ValueError(f"changes[{n}] ({field}): longer than {live.MAX_VALUE} characters")
        changes.append((field, base, value))
    return client, since, focus, changes


@bp.post("/editor/sheets/<uuid:sheet_id>/live")
@role_required("editor")
def sheet_live(sheet_id: uuid.UUID) -> Response | tuple[Response, int]:
    # One query for a poll's checks: a poll a second per open page adds up.
    found = db.session.execute(
        select(Evaluation.version, Evaluation.deleted_at, Entry.deleted_at)
        .join(Entry, Entry.id == Evaluation.entry_id).where(Evaluation.id == sheet_id)).first()
    if found is None:
        abort(404)
    version, sheet_deleted, entry_deleted = found
    if sheet_deleted is not None or entry_deleted is not None:
        return _problem(410, "sheet", "This sheet is deleted.")
    try:
        client, since, focus, changes = _read(request.get_json(silent=True), sheet_id)
    except ValueError as exc:
        return _problem(422, str(exc).split(":")[0], str(exc))
    user = me()
    applied = []
    if changes:
        sheet = db.session.get(Evaluation, sheet_id)
        applied = live.apply_changes(sheet, changes, user_id=user.id)
    live.touch(sheet_id, client, user.id, focus)
    db.session.commit()
    news = live.changes_since(sheet_id, since)
    return jsonify({
        "applied": [vars(v) for v in applied],
        "changes": [vars(v) for v in news],
        "cursor": max([since, *(v.seq for v in news)]),
        "present": live.present(sheet_id, user.id),
        "version": version,
    })
