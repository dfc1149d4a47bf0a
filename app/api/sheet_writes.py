"""Writes of evaluation sheets through the API, for mirrors (`flask sync push`) and scripts.

PUT /api/v1/evaluations/<uuid> with `If-None-Match: *` creates a sheet with that id on
the entry `entry_id` names (its id here, or another id of it); with `If-Match:
"v<n>"` it replaces the sheet's title, date, authors and answers. A sheet created
with `If-None-Match: *` that is a twin of a local one (same entry, title and meeting
date) is linked to it, not created twice: the answer is then a 412 with the local
sheet's ETag, as for any sheet that exists. DELETE (If-Match) puts a sheet in the
trash. Editors and admins only, bearer token, through app.services.evaluations.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, request, url_for

from ..extensions import db
from ..formats.sheet_changes import ANSWER_FIELDS, sheet_record
from ..http.json import json_response
from ..http.problems import problem
from ..models import Evaluation
from ..services.entries import find_entry
from ..services.evaluations import delete_evaluation, save_evaluation
from ..services.link_reasons import link_reason
from ..services.links import find_sheet, link, record_sheet_source, sheet_twin
from .v1 import blp
from .writes import BadRequest, author, bearer, documented, handled, invalid, json_body, source_ref


def etag(sheet: Evaluation) -> str:
    return f'"v{sheet.version}"'


def sheet_answer(sheet: Evaluation, status: int = 200) -> Response:
    response = json_response(sheet_record(sheet), status=status)
    response.headers["ETag"] = etag(sheet)
    response.headers["Cache-Control"] = "no-store"
    if status == 201:
        response.headers["Location"] = url_for("api_v1.get_sheet", sheet_id=sheet.id,
                                               _external=True)
    return response


def exists(sheet: Evaluation, detail: str) -> Response:
    return problem(412, "Precondition Failed", detail, current_version=sheet.version,
                   sheet=sheet_record(sheet), headers={"ETag": etag(sheet)})


def sheet_input(body: dict[str, Any]) -> dict[str, Any]:
    """The body as EvaluationInputSchema data: answers as a list of {"key", …} (the shape
    the API serves) become a mapping by key; the state is published unless given."""
    answers = body.get("answers") or []
    if not isinstance(answers, list) or not all(
            isinstance(a, dict) and isinstance(a.get("key"), str) for a in answers):
        raise BadRequest(invalid({"answers": ["A list of objects, each with its key."]}))
    return {"title": body.get("title"), "held_on": body.get("held_on"),
            "authors": body.get("authors"), "state": body.get("state") or "published",
            "answers": {a["key"]: {name: a.get(name) for name in ANSWER_FIELDS}
                        for a in answers}}


def entry_of(body: dict[str, Any]):
    entry = find_entry(str(body.get("entry_id") or ""))
    if entry is None or entry.deleted_at is not None:
        raise BadRequest(invalid({"entry_id": [f"No entry {body.get('entry_id')!r} here."]}))
    return entry


@blp.route("/evaluations/<uuid:sheet_id>", methods=["PUT"])
@blp.response(200, description="Replaced (or unchanged).")
@blp.alt_response(201, description="Created (If-None-Match: * on an unknown id).")
@documented(400, 401, 403, 404, 410, 412, 422, 428, body=False, if_match_header=True)
@bearer("editor")
@handled
def replace_sheet(sheet_id: uuid.UUID):
    """Create (If-None-Match: *) or replace (If-Match) an evaluation sheet (bearer token).

    Body: `entry_id`, `title`, `held_on`, `authors`, `answers` (a list of `key`,
    `level`, `strengths`, `limits`, `stakes`) and optionally `state` (default
    published).
    """
    body = json_body()
    source = source_ref()
    sheet = find_sheet(sheet_id)
    data = sheet_input(body)
    if sheet is None:
        if not request.if_none_match.star_tag:
            return problem(404, "Not Found", f"No sheet {sheet_id}: PUT with If-None-Match: * "
                                             "creates it.")
        entry = entry_of(body)
        origin = source.origin if source else None
        twin = sheet_twin(entry.id, str(data["title"] or ""), _date(data["held_on"]),
                          not_from=origin)
        if twin is not None:
            link("evaluation", sheet_id, twin.id, origin=origin or "api",
                 reason=link_reason("same_sheet"))
            if source is not None:
                record_sheet_source(twin, source.origin, source.external_id)
            db.session.commit()
            return exists(twin, f"A twin of this sheet exists here ({twin.id}): linked, "
                                "not created again.")
        result = save_evaluation(entry, None, data, author=author(), expected_version=None,
                                 evaluation_id=sheet_id, commit=False,
                                 comment=f"Sent by {origin}" if origin else None)
        if source is not None:
            record_sheet_source(result.evaluation, source.origin, source.external_id)
        db.session.commit()
        return sheet_answer(result.evaluation, 201)
    if request.if_none_match.star_tag:
        return exists(sheet, "If-None-Match: * but the sheet exists.")
    if sheet.deleted_at is not None:
        return problem(410, "Gone", f"Sheet {sheet.id} was deleted.", id=str(sheet.id))
    refused = _if_match(sheet)
    if refused is not None:
        return refused
    if entry_of(body).id != sheet.entry_id:
        return invalid({"entry_id": ["A sheet does not move to another entry."]})
    result = save_evaluation(sheet.entry, sheet, data, author=author(),
                             expected_version=sheet.version, commit=False)
    if source is not None:
        record_sheet_source(sheet, source.origin, source.external_id)
    db.session.commit()
    return sheet_answer(result.evaluation)


@blp.route("/evaluations/<uuid:sheet_id>", methods=["DELETE"])
@blp.response(204, description="Deleted (a tombstone: the sheets' feed hands it on).")
@documented(400, 401, 403, 404, 410, 412, 428, body=False, if_match_header=True)
@bearer("editor")
@handled
def remove_sheet(sheet_id: uuid.UUID):
    """Delete an evaluation sheet (bearer token, editor or admin; If-Match)."""
    sheet = find_sheet(sheet_id)
    if sheet is None:
        return problem(404, "Not Found", f"No sheet {sheet_id}.")
    if sheet.deleted_at is not None:
        return problem(410, "Gone", f"Sheet {sheet.id} was deleted.", id=str(sheet.id))
    refused = _if_match(sheet)
    if refused is not None:
        return refused
    delete_evaluation(sheet, expected_version=sheet.version, author=author())
    return Response(status=204)


def _if_match(sheet: Evaluation) -> Response | None:
    if "If-Match" not in request.headers:
        return problem(428, "Precondition Required",
                       f"Send If-Match: {etag(sheet)} (the ETag of the version you read).")
    if not request.if_match.contains(f"v{sheet.version}"):
        return exists(sheet, f"The sheet is at {etag(sheet)}, not "
                             f"{request.headers['If-Match']}.")
    return None


def _date(value: Any):
    from datetime import date

    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise BadRequest(invalid({"held_on": ["Not a valid date (YYYY-MM-DD)."]})) from None
