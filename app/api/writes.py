"""Writes through the API, for platforms and scripts: POST, PUT, PATCH, DELETE of entries.

Bearer tokens only (app.auth.tokens): no cookie is read, so no CSRF token is
needed. The token's user's role applies: editors and admins publish, a
contributor's creation lands pending and its edits become proposals (202).
Updates need `If-Match` with the entry's strong ETag `"v<version>"` (428 without,
412 when stale, and then nothing is written). A PUT with `If-None-Match: *` of an
entry that is a twin of a local one (the same X-Atlas-Source, within 50 m with a
similar name, or the same website) links its id to the local entry instead of
creating it twice, and answers 412 with the local entry's ETag, as for an entry that
exists (app/services/links.py). Everything goes through
app.services, so the same validation, revisions and sources apply as for forms.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from flask import Response, current_app, g, request, url_for
from marshmallow import fields
from werkzeug.datastructures import ETags

from .. import entry_fields
from ..auth.roles import has_role, publishes
from ..auth.tokens import BearerError, bearer_user
from ..extensions import db
from ..formats.public import public_record
from ..http.compression import CODED_ENTRY_ETAG
from ..http.json import json_response
from ..http.problems import problem
from ..mail.messages import send_decision
from ..models import Entry, User
from ..schemas.entry import EntryInputSchema
from ..services.entries import (
    SourceRef,
    delete_entry,
    find_by_source,
    find_entry,
    save_entry,
)
from ..services.errors import ConflictError, ErrorMessage, WriteValidationError
from ..services.link_reasons import link_reason, reason_english
from ..services.links import Twin, aliases_of, entry_twin, link, local_entry
from ..services.policy import (
    can_delete_entry,
    can_edit_entry,
    can_view_entry,
    refusal_status,
    settable_input,
    shows_as_gone,
    writes_directly,
)
from ..services.proposals import propose_edit, propose_entry, write_directly
from ..services.revisions import Author
from .schemas import EntrySchema, Strict
from .v1 import blp

SOURCE_HEADER = "X-Atlas-Source"
# What a PUT keeps when the body leaves it out: the page address and the moderation
# state are not content a mirror replaces.
KEPT_BY_PUT = tuple(f.name for f in entry_fields.FIELDS if not f.content)
# What a PUT clears when the body leaves it out (kind and name are required; status has
# a default).
CLEARED_BY_PUT = (*(f.name for f in entry_fields.FIELDS if f.content and f.nullable),
                  "tags", "relations")
EMPTY = {"tags": [], "relations": []}


class EntryWriteSchema(EntryInputSchema):
    """An entry as written through the API (documentation of the request body)."""

    id = fields.UUID(metadata={"description": "POST only: the UUID to give the new entry "
                                              "(mirrors keep their source's ids)."})


class ProposalSchema(Strict):
    """A contributor's edit, waiting for the editors."""

    proposal = fields.Integer(required=True)
    state = fields.String(required=True)
    entry_id = fields.UUID(required=True)


def unseen_answer(entry: Entry, ref: str) -> Response | None:
    """What the API answers about an entry the token's user may not see: what the public
    gets (404, or 410 for a deleted published entry), so that nothing of it shows."""
    if can_view_entry(user(), entry):
        return None
    if shows_as_gone(user(), entry):
        return problem(410, "Gone", f"Entry {entry.id} was deleted.", id=str(entry.id),
                       deleted_at=entry.deleted_at.isoformat())
    return problem(404, "Not Found", f"No entry {ref!r}.")


def etag_of(entry: Entry) -> str:
    return f'"v{entry.version}"'


# -- answers ----------------------------------------------------------------------------------

def invalid(messages: dict[str, Any], status: int = 422) -> Response:
    """A 422 naming each field, with each reason in English and, when the services gave
    one, its stable `code` and `params` (app.services.errors.ErrorMessage): what a client
    translates or acts on, whatever the English wording."""
    params = []
    for name, reasons in messages.items():
        for reason in reasons if isinstance(reasons, list) else [reasons]:
            item: dict[str, Any] = {"name": name, "reason": str(reason)}
            if isinstance(reason, ErrorMessage):
                item["code"], item["params"] = reason.code, reason.public_params()
            params.append(item)
    detail = "; ".join(f"{p['name']}: {p['reason']}" for p in params)
    return problem(status, "Invalid entry", detail, **{"invalid-params": params})


def stale(entry: Entry, asked: str) -> Response:
    return problem(412, "Precondition Failed",
                   f"The entry is at {etag_of(entry)}, not {asked}: fetch it again, "
                   f"merge, and retry with its ETag.", current_version=entry.version,
                   headers={"ETag": etag_of(entry)})


def entry_answer(entry: Entry, status: int = 200) -> Response:
    response = json_response(public_record(entry), status=status)
    response.headers["ETag"] = etag_of(entry)
    response.headers["Cache-Control"] = "no-store"
    if status == 201:
        response.headers["Location"] = url_for("api_v1.get_entry", ref=str(entry.id),
                                               _external=True)
    return response


def proposal_answer(proposal: Any) -> Response:
    response = json_response({"proposal": proposal.id, "state": proposal.state,
                              "entry_id": str(proposal.entry_id)}, status=202)
    response.headers["Cache-Control"] = "no-store"
    return response


# -- request parts --------------------------------------------------------------------------

def bearer(minimum: str = "contributor") -> Callable[..., Any]:
    """401 without a usable token, 403 below `minimum`; the user is then `g.api_user`."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                user = bearer_user()
            except BearerError as exc:
                return problem(401, "Unauthorized", exc.detail,
                               headers={"WWW-Authenticate": exc.challenge})
            if not has_role(user, minimum):
                return problem(403, "Forbidden", f"A {user.role} may not do this: it needs "
                                                 f"the {minimum} role or above.")
            g.api_user = user
            return view(*args, **kwargs)

        wrapper.required_role = minimum  # type: ignore[attr-defined]
        return wrapper

    return decorator


class BadRequest(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest(invalid({"body": ["Send a JSON object (Content-Type: "
                                           "application/json)."]}))
    return dict(body)


def source_ref() -> SourceRef | None:
    raw = request.headers.get(SOURCE_HEADER)
    if raw is None:
        return None
    origin, _, external_id = raw.strip().partition(" ")
    external_id = external_id.strip()
    if not origin or not external_id or len(origin) > 80 or len(external_id) > 200:
        raise BadRequest(problem(400, "Bad header", f"{SOURCE_HEADER}: expected "
                                 "'<origin> <external-id>', such as 'remote:lille 6f1c…'",
                                 parameter=SOURCE_HEADER))
    return SourceRef(origin, external_id)


def detached_answer() -> Response | None:
    """A 409 for a write naming (X-Atlas-Source) a record an editor detached here: a
    pushing instance no longer feeds that entry, nor creates it anew
    (app/services/source_detach.py)."""
    from ..services.source_detach import is_detached

    source = source_ref()
    if source is None or not is_detached(source.origin, source.external_id):
        return None
    return problem(409, "Conflict", f"{source.origin} {source.external_id} was detached "
                   "from its entry here by an editor: it no longer feeds it.")


def body_id(body: dict[str, Any]) -> uuid.UUID | None:
    raw = body.pop("id", None)
    if raw is None:
        return None
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise BadRequest(invalid({"id": ["Not a valid UUID."]})) from None


def if_match(entry: Entry) -> Response | None:
    """None when the request may go on; else the 428 or 412 answer."""
    if "If-Match" not in request.headers:
        return problem(428, "Precondition Required",
                       f"Send If-Match: {etag_of(entry)} (the ETag of the version you read), "
                       "so that no one's change is overwritten unseen.")
    if not etag_matches(entry, request.if_match):
        return stale(entry, request.headers["If-Match"])
    return None


def etag_matches(entry: Entry, asked: ETags) -> bool:
    """Whether an If-Match names the entry's version (its ETag, or a coded form of it)."""
    current = etag_of(entry).strip('"')
    return asked.contains(current) or any(
        CODED_ENTRY_ETAG.match(tag) and tag.split(":")[0] == current
        for tag in asked.as_set())


def replacement(entry: Entry, body: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """A PUT's (or PATCH's) body as write input: what the user may set, the page address
    and moderation kept, and for a full replacement what it leaves out cleared."""
    body = settable_input(user(), body)
    for key in KEPT_BY_PUT:
        body.setdefault(key, getattr(entry, key))
    if not partial:  # a full replacement: what the body leaves out is cleared
        for key in CLEARED_BY_PUT:
            body.setdefault(key, EMPTY.get(key))
        if "lon" not in body and "lat" not in body:
            body["lon"] = body["lat"] = None
    return body


def asked_language() -> str | None:
    """The language the client asks for (Accept-Language), if it is one of ours: a
    proposal's author hears of the decision in it."""
    return request.accept_languages.best_match(current_app.config["LANGUAGES"])


def user() -> User:
    return g.api_user


def author() -> Author:
    return Author(user=user())


# -- routes ---------------------------------------------------------------------------------

def documented(*codes: int, body: bool = True, if_match_header: bool = False):
    """The OpenAPI side of a write: bearer security, request body, headers, problems."""
    parameters = [{"in": "header", "name": SOURCE_HEADER, "required": False,
                   "schema": {"type": "string"},
                   "description": "Provenance of the write: '<origin> <external-id>'."}]
    if if_match_header:
        parameters.append({"in": "header", "name": "If-Match", "required": True,
                           "schema": {"type": "string"},
                           "description": 'The entry\'s ETag, "v<version>".'})
    doc: dict[str, Any] = {"security": [{"bearerAuth": []}], "parameters": parameters}
    if body:
        doc["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/EntryInput"}}}}

    def decorator(view):
        for code in reversed(codes):
            view = blp.alt_response(code, response=HTTPStatus(code).name)(view)
        return blp.doc(**doc)(view)

    return decorator


def handled(view: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the services' refusals into problems; nothing half-written stays."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except BadRequest as exc:
            db.session.rollback()
            return exc.response
        except WriteValidationError as exc:
            db.session.rollback()
            return invalid(exc.messages)
        except ConflictError as exc:
            db.session.rollback()
            entry = db.session.get(Entry, exc.entity_id)
            return stale(entry, request.headers.get("If-Match", "")) if entry else problem(
                412, "Precondition Failed", str(exc))

    return wrapper


def _linked_twin(body: dict[str, Any], new_id: uuid.UUID) -> Response | None:
    """A new entry that is a twin of a local one: its id is linked to the local entry
    (an alias), and the answer is the 412 of an entry that exists. Editors only: a
    contributor's creation is reviewed anyway."""
    if not publishes(user()):
        return None
    source = source_ref()
    twin = None
    if source is not None:
        same = find_by_source(source.origin, source.external_id)
        twin = Twin(same, link_reason("same_source", origin=source.origin,
                                      external_id=source.external_id)) \
            if same is not None else None
    twin = twin or entry_twin(body, not_from=source.origin if source else None)
    if twin is None or twin.entry.deleted_at is not None:
        return None
    link("entry", new_id, twin.entry.id, origin=source.origin if source else "api",
         reason=twin.reason)
    if source is not None:
        save_entry(twin.entry, {}, author=author(), expected_version=None, commit=False,
                   source=SourceRef(source.origin, source.external_id,
                                    {"linked": True, "body": body}))
    db.session.commit()
    return exists(twin.entry, f"A twin of this entry exists here ({twin.entry.id}, "
                              f"{reason_english(twin.reason)}): linked, not created again.")


def exists(entry: Entry, detail: str) -> Response:
    """The 412 of a creation whose entry exists here: with the entry as it is and its
    outgoing public links (each target with its other ids), so that a mirror sees at
    once whether it holds what it sent, whichever ids it knows the targets by."""
    relations = sorted(({"type": r.type, "target": str(r.target_id),
                         "aliases": [str(a) for a in aliases_of("entry", r.target_id)]}
                        for r in entry.relations_out if r.target.deleted_at is None
                        and r.target.moderation == "published"),
                       key=lambda r: (r["type"], r["target"]))
    return problem(412, "Precondition Failed", detail, current_version=entry.version,
                   entry=public_record(entry), relations=relations,
                   headers={"ETag": etag_of(entry)})


def _local_targets(body: dict[str, Any]) -> dict[str, Any]:
    """Link targets named by another id of a local entry (an alias) as the local id."""
    relations = body.get("relations")
    if not isinstance(relations, list):
        return body
    mapped = []
    for item in relations:
        if isinstance(item, dict) and item.get("target") is not None:
            local = local_entry(item["target"])
            if local is not None:
                item = {**item, "target": str(local.id)}
        mapped.append(item)
    return {**body, "relations": mapped}


def _create(body: dict[str, Any], entry_id: uuid.UUID | None) -> Response:
    source = source_ref()
    if entry_id is not None and find_entry(entry_id) is not None:
        return problem(409, "Conflict", f"An entry with the id {entry_id} exists already.")
    if publishes(user()):
        result = save_entry(None, body, author=author(), expected_version=None, source=source,
                            entry_id=entry_id)
        return entry_answer(result.entry, 201)
    proposal = propose_entry(settable_input(user(), body), author=author(), source=source,
                             entry_id=entry_id, locale=asked_language())
    return entry_answer(proposal.entry, 201)


@blp.route("/entries", methods=["POST"])
@blp.response(201, EntrySchema, description="Created.")
@documented(400, 401, 403, 409, 422)
@bearer("contributor")
@handled
def create_entry():
    """Create an entry (bearer token).

    Body: the entry's fields, and optionally its `id` (UUID). Editors and admins
    publish; a contributor's entry waits, pending, for an editor. Answers 201 with
    Location and ETag; an `id` that exists already is a 409.
    """
    detached = detached_answer()
    if detached is not None:
        return detached
    body = json_body()
    return _create(body, body_id(body))


def _write(ref: str, *, partial: bool) -> Response:
    detached = detached_answer()
    if detached is not None:
        return detached
    entry = find_entry(ref)
    if entry is None:
        if not partial and request.if_none_match.star_tag:
            try:
                new_id = uuid.UUID(ref)
            except ValueError:
                return problem(404, "Not Found", "PUT with If-None-Match: * creates an entry "
                                                 "at a UUID, not at a slug.")
            body = json_body()
            given = body_id(body)
            if given is not None and given != new_id:
                return invalid({"id": ["The id of the body differs from the URL's."]})
            linked = _linked_twin(body, new_id)
            if linked is not None:
                return linked
            return _create(_local_targets(body), new_id)
        return problem(404, "Not Found", f"No entry {ref!r}.")
    unseen = unseen_answer(entry, ref)
    if unseen is not None:
        return unseen
    if request.if_none_match.star_tag:
        return exists(entry, "If-None-Match: * but the entry exists.")
    if entry.deleted_at is not None:
        return problem(410, "Gone", f"Entry {entry.id} was deleted.", id=str(entry.id),
                       deleted_at=entry.deleted_at.isoformat())
    if not can_edit_entry(user(), entry):
        return problem(403, "Forbidden", "A contributor may only propose changes to "
                                         "published entries, or correct their own entry "
                                         "while it waits for review.")
    refused = if_match(entry)
    if refused is not None:
        return refused
    expected = entry.version
    body = json_body()
    given = body_id(body)
    if given is not None and given != entry.id:
        return invalid({"id": ["The id of the body differs from the entry's."]})
    # Moderation and the page address are the editors' (as in the forms).
    body = replacement(entry, body, partial=partial)
    source = source_ref()
    body = _local_targets(body)
    if not writes_directly(user(), entry):
        body.pop("moderation", None)
        proposal = propose_edit(entry, body, author=author(), base_version=expected,
                                partial=partial, locale=asked_language())
        if proposal is None:
            return entry_answer(entry)
        return proposal_answer(proposal)
    result, settled = write_directly(entry, body, author=author(), expected_version=expected,
                                     partial=partial, source=source)
    for proposal in settled:  # as the form does: whoever proposed hears of the decision
        send_decision(proposal)
    return entry_answer(result.entry)


@blp.route("/entries/<ref>", methods=["PUT"])
@blp.response(200, EntrySchema, description="Replaced (or unchanged).")
@blp.alt_response(201, schema=EntrySchema,
                  description="Created (If-None-Match: * on an unknown UUID).")
@blp.alt_response(202, schema=ProposalSchema, description="A contributor's edit: kept as a "
                  "proposal for the editors; the entry is unchanged.")
@documented(400, 401, 403, 404, 409, 410, 412, 422, 428, if_match_header=True)
@bearer("contributor")
@handled
def replace_entry(ref: str):
    """Replace an entry (bearer token; If-Match).

    Fields the body leaves out are cleared (the slug and the moderation state are
    kept). With `If-None-Match: *` on an unknown UUID, creates the entry with that id.
    """
    return _write(ref, partial=False)


@blp.route("/entries/<ref>", methods=["PATCH"])
@blp.response(200, EntrySchema, description="Changed (or unchanged).")
@blp.alt_response(202, schema=ProposalSchema, description="A contributor's edit: kept as a "
                  "proposal for the editors; the entry is unchanged.")
@documented(400, 401, 403, 404, 409, 410, 412, 422, 428, if_match_header=True)
@bearer("contributor")
@handled
def patch_entry(ref: str):
    """Change some fields of an entry (bearer token; If-Match); the others stay."""
    return _write(ref, partial=True)


@blp.route("/entries/<ref>", methods=["DELETE"])
@blp.response(204, description="Deleted (a tombstone: the change feed hands it on).")
@documented(400, 401, 403, 404, 409, 410, 412, 428, body=False, if_match_header=True)
@bearer("editor")
@handled
def remove_entry(ref: str):
    """Delete an entry (bearer token, editor or admin; If-Match)."""
    detached = detached_answer()
    if detached is not None:
        return detached
    entry = find_entry(ref)
    if entry is None:
        return problem(404, "Not Found", f"No entry {ref!r}.")
    if not can_delete_entry(user(), entry):
        if refusal_status(user(), entry) == 410:
            return problem(410, "Gone", f"Entry {entry.id} was deleted.", id=str(entry.id),
                           deleted_at=entry.deleted_at.isoformat())
        return problem(403, "Forbidden", "Deleting is the editors'.")
    refused = if_match(entry)
    if refused is not None:
        return refused
    delete_entry(entry, expected_version=entry.version, author=author())
    return Response(status=204)
