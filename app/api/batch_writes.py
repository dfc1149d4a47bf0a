"""`POST /api/v1/entries/batch`: many PUTs in one request, one answer per item.

Each item is what one `PUT /api/v1/entries/<id>` would be: its `entry` body, its own
`if_match` ("v<n>") or `if_none_match` ("*"), its own `source` (the X-Atlas-Source
value). Each is all-or-nothing on its own: a stale If-Match gets its 412, a bad field
its 422 naming the field, and the other items land. At most BATCH_LIMIT items (a 413
naming the limit above it). Editors and admins only: a contributor's writes are
proposals, reviewed one by one.

Plain creations (If-None-Match: *, an id unknown here, a source, no twin by the one
twin rule, link targets already here or creations of the same batch) are validated one
by one and then written together by the write service's `create_entries` (one COPY per
table, every entry before any link): what a mirror's first push is made of. Plain
updates (If-Match on an entry an editor may replace) are written together by
`update_entries` (app/api/batch_updates.py). Every other item runs
exactly as its single PUT would (app/api/writes.py `_write`), committed on its own.

Concurrent batches (a push keeps two in flight) are validated at the same time, but
what must see the other batch's entries — the look-ups of known ids, sources, twins,
link targets and slugs, then the write — runs under one transaction-level advisory
lock (WRITE_LOCK), as do the single PUTs of the batch's other items: each batch is
written as if it came alone after the one before it, so a twin split across two
batches is linked, never created twice.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, current_app, request
from marshmallow import fields
from sqlalchemy import func, select, text

from ..communes.index import commune_index
from ..extensions import db
from ..http.json import json_response
from ..http.problems import problem
from ..models import Entry, IdentityLink, Source
from ..services.entries import (
    SLUG_TAKEN,
    CleanEntry,
    NewEntry,
    SourceRef,
    check_tags,
    create_entries,
    known_tags,
    new_entry,
    validate_entry,
)
from ..services.errors import WriteValidationError, coded
from ..services.links import as_uuid
from ..services.source_pairs import matching
from ..services.twin_rule import DUPLICATES_SQL, twin_params
from .batch_updates import batch_updates
from .schemas import Strict
from .v1 import blp
from .writes import SOURCE_HEADER, _write, author, bearer, documented, handled, invalid

BATCH_LIMIT = 1_000
GROWTH = 0.25
_ESTIMATE = text("SELECT reltuples FROM pg_class WHERE oid = 'entries'::regclass")
_ANALYZE = text("ANALYZE entries, sources, identity_links")
# Held from a batch's first look-up to its commit (and by each single PUT it runs).
WRITE_LOCK = "atlas:entry-batch"
_TAKEN_SLUGS = text("SELECT slug FROM entries WHERE slug = ANY(CAST(:slugs AS text[]))")


class BatchItemSchema(Strict):
    """One write of a batch: the body and headers of one PUT /entries/<id>."""

    id = fields.UUID(required=True, metadata={"description": "The entry's UUID (the URL "
                                                             "of its single PUT)."})
    if_match = fields.String(metadata={"description": 'The ETag read, "v<version>": '
                                                      "updates only that version."})
    if_none_match = fields.String(metadata={"description": '"*": creates the entry at '
                                                           "this id (412 when it exists)."})
    source = fields.String(metadata={"description": "Provenance: '<origin> <external-id>' "
                                                    "(the X-Atlas-Source header)."})
    entry = fields.Dict(required=True, metadata={"description": "The entry (EntryInput), "
                                                                "a full replacement."})


class EntryBatchSchema(Strict):
    items = fields.List(fields.Nested(BatchItemSchema), required=True,
                        metadata={"description": f"At most {BATCH_LIMIT} items."})


class BatchOutcomeSchema(Strict):
    """What the item's single PUT would have answered."""

    id = fields.String(required=True, allow_none=True)
    status = fields.Integer(required=True, metadata={"description": "201, 200, 412, 422…"})
    version = fields.Integer(allow_none=True, metadata={"description": "The entry's version "
                                                        "after the write (its ETag v<n>)."})
    errors = fields.List(fields.Dict(), metadata={"description": "422: invalid-params, each "
                                                  "naming its field."})
    problem = fields.Dict(metadata={"description": "The problem document of a refusal (a 412 "
                                                   "of an entry that exists holds it)."})


class BatchAnswerSchema(Strict):
    items = fields.List(fields.Nested(BatchOutcomeSchema), required=True)


@blp.route("/entries/batch", methods=["POST"])
@blp.response(200, BatchAnswerSchema, description="One outcome per item, in their order.")
@blp.doc(requestBody={"required": True, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/EntryBatch"}}}})
@documented(401, 403, 413, 422, body=False)
@bearer("editor")
@handled
def write_batch():
    """Write many entries (bearer token, editor or admin), each with its own If-Match.

    Each item is a PUT of one entry, answered on its own (status, version, errors
    naming the field); one refused item does not stop the others. At most 1,000 items:
    above, 413.
    """
    body = request.get_json(silent=True)
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return invalid({"items": ["Send a JSON object {\"items\": [...]}."]})
    if len(items) > BATCH_LIMIT:
        return problem(413, "Content Too Large", f"A batch holds at most {BATCH_LIMIT} "
                       f"items; this one has {len(items)}. Split it.", limit=BATCH_LIMIT)
    outcomes: list[dict[str, Any] | None] = [None] * len(items)
    for index in _detached(items):  # the single PUT's 409, and nothing written
        outcomes[index] = _one(items[index])
    for index, outcome in _plain_creations(items, outcomes).items():
        outcomes[index] = outcome
    batch_updates(items, outcomes, _source, _outcome)
    for index, item in enumerate(items):
        if outcomes[index] is None:
            outcomes[index] = _one(item)
    return json_response({"items": outcomes})


def _outcome(key: Any, response: Response) -> dict[str, Any]:
    etag = (response.headers.get("ETag") or "").strip('"')
    out: dict[str, Any] = {"id": str(key), "status": response.status_code,
                           "version": int(etag[1:]) if etag[1:].isdigit() else None}
    if response.status_code >= 400:
        document = response.get_json(silent=True) or {}
        out["problem"] = document
        if document.get("invalid-params"):
            out["errors"] = document["invalid-params"]
    return out


def _one(item: Any) -> dict[str, Any]:
    """The item as its own PUT, through the single write's code (committed alone)."""
    if not isinstance(item, dict) or as_uuid(item.get("id")) is None:
        key = item.get("id") if isinstance(item, dict) else None
        return _outcome(key, invalid({"id": ["Each item needs the entry's UUID as id."]}))
    key = as_uuid(item["id"])
    headers = {}
    for name, header in (("if_match", "If-Match"), ("if_none_match", "If-None-Match"),
                         ("source", SOURCE_HEADER)):
        if isinstance(item.get(name), str):
            headers[header] = item[name]
    with current_app.test_request_context(f"/api/v1/entries/{key}", method="PUT",
                                          json=item.get("entry"), headers=headers,
                                          base_url=request.host_url):
        serialise_writes()
        response = handled(_write)(str(key), partial=False)
    return _outcome(key, response)


def _detached(items: list[Any]) -> list[int]:
    """The items naming a record an editor detached here (app/services/source_detach.py),
    in one query: their single PUT answers 409."""
    refs = {index: _source(item.get("source")) for index, item in enumerate(items)
            if isinstance(item, dict)}
    refs = {index: ref for index, ref in refs.items() if ref is not None}
    if not refs:
        return []
    found = matching("source_exclusions", ((r.origin, r.external_id) for r in refs.values()))
    return [index for index, ref in refs.items() if (ref.origin, ref.external_id) in found]


def _plain_creations(items: list[Any], answered: list[Any]) -> dict[int, dict[str, Any]]:
    """Create set-based the items that only create; their outcomes by index. Those it
    cannot settle (twins, existing ids, unknown link targets…) are left to `_one`;
    those `answered` already are left alone."""
    candidates: dict[int, tuple[uuid.UUID, dict[str, Any], SourceRef]] = {}
    seen: set[uuid.UUID] = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict) or answered[index] is not None:
            continue
        key = as_uuid(item.get("id"))
        body, source = item.get("entry"), _source(item.get("source"))
        if key is None or key in seen:
            continue
        seen.add(key)
        if item.get("if_none_match") != "*" or "if_match" in item \
                or not isinstance(body, dict) or source is None \
                or body.get("id", str(key)) != str(key):
            continue
        candidates[index] = (key, {k: v for k, v in body.items() if k != "id"}, source)
    if not candidates:
        return {}
    # Validated and rendered before the lock (the body alone decides), while another
    # batch writes; rendered again under it only where a link resolves otherwise.
    checked = {index: _validated(body) for index, (_, body, _) in candidates.items()}
    communes = commune_index()
    rendered = {index: _rendered(candidates[index], loaded, communes)
                for index, loaded in checked.items()
                if not isinstance(loaded, WriteValidationError)}
    serialise_writes()
    # The batch queries (twins of hundreds of candidates) are costed above
    # jit_above_cost but run in milliseconds: compiling them cost more (as an import's).
    db.session.execute(text("SET LOCAL jit = off"))
    keys = [key for key, _, _ in candidates.values()]
    known = set(db.session.scalars(select(Entry.id).where(Entry.id.in_(keys))))
    known |= set(db.session.scalars(select(IdentityLink.alias_id).where(
        IdentityLink.entity_type == "entry", IdentityLink.alias_id.in_(keys))))
    sourced = matching("sources", ((s.origin, s.external_id) for _, _, s in candidates.values()))
    plain = {i: c for i, c in candidates.items() if c[0] not in known
             and (c[2].origin, c[2].external_id) not in sourced}
    # Once for the whole batch (a comprehension's condition runs per item).
    twins = _twins(plain)
    plain = {i: c for i, c in plain.items() if i not in twins}
    return _create(plain, items, checked, rendered)


def serialise_writes() -> None:
    """Wait for any other batch's look-ups and write to commit: from here to this
    transaction's end, this one sees every entry the other wrote."""
    db.session.execute(select(func.pg_advisory_xact_lock(func.hashtext(WRITE_LOCK))))


def _validated(body: dict[str, Any]) -> CleanEntry | WriteValidationError:
    try:
        return validate_entry(body)
    except WriteValidationError as exc:
        return exc


Rendering = tuple[list[dict[str, str]], NewEntry | WriteValidationError]


def _rendered(candidate: tuple[uuid.UUID, dict[str, Any], SourceRef], loaded: CleanEntry,
              communes: Any) -> Rendering | None:
    """The creation rendered with each link's target taken as named (the usual case: an
    entry here by its own id, or a creation of the batch), and those links; None when
    a target is not a UUID."""
    key, _, source = candidate
    clean = dict(loaded.data)
    relations = clean.pop("relations", None) or []
    targets = [as_uuid(r["target"]) for r in relations]
    if any(t is None for t in targets):
        return None
    guess = [{"type": r["type"], "target": str(t)} for r, t in zip(relations, targets,
                                                                   strict=True)]
    try:
        plan: NewEntry | WriteValidationError = new_entry(
            CleanEntry(clean, loaded.slug_base), source, entry_id=key, relations=guess,
            fill_codes=True, communes=communes)
    except WriteValidationError as exc:
        plan = exc
    return guess, plan


def _source(raw: Any) -> SourceRef | None:
    if not isinstance(raw, str):
        return None
    origin, _, external_id = raw.strip().partition(" ")
    external_id = external_id.strip()
    if not origin or not external_id or len(origin) > 80 or len(external_id) > 200:
        return None
    return SourceRef(origin, external_id)


def _twins(plain: dict[int, tuple[uuid.UUID, dict[str, Any], SourceRef]]) -> set[int]:
    """Indexes with a live local twin not from their own source's origin (entry_twin)."""
    named = {i: c for i, c in plain.items() if isinstance(c[1].get("name"), str)
             and c[1]["name"]}
    if not named:
        return set()
    order = list(named)
    rows = db.session.execute(DUPLICATES_SQL, twin_params(
        [named[i][1] for i in order], order)).all()
    if not rows:
        return set()
    origins = {(row[0], row[1]) for row in db.session.execute(
        select(Source.entry_id, Source.origin).where(
            Source.entry_id.in_([row.id for row in rows])))}
    return {row.idx for row in rows if (row.id, named[row.idx][2].origin) not in origins}


def _create(plain: dict[int, tuple[uuid.UUID, dict[str, Any], SourceRef]],
            items: list[Any], validated: dict[int, CleanEntry | WriteValidationError],
            rendered: dict[int, Rendering | None]) -> dict[int, dict[str, Any]]:
    """Create the valid ones in one go (`validated`: each item checked before the lock,
    a refusal its own 422; `rendered`: as `_rendered` made them). A link to another
    creation of the batch, before or after it, is made in that go (every entry is
    written before any link) when that creation is valid; else the item gets the single
    PUT's 422 naming the target. A refusal of the whole batch by the database (a race)
    leaves them all to `_one`."""
    targets = _targets({str(r.get("target")) for _, body, _ in plain.values()
                        for r in body.get("relations") or [] if isinstance(r, dict)})
    slugs = sorted({body["slug"] for _, body, _ in plain.values()
                    if isinstance(body.get("slug"), str) and body["slug"]})
    taken = set(db.session.scalars(_TAKEN_SLUGS, {"slugs": slugs})) if slugs else set()
    tags = known_tags({str(t) for _, body, _ in plain.values()
                       for t in (body.get("tags") if isinstance(body.get("tags"), list)
                                 else [])})
    outcomes: dict[int, dict[str, Any]] = {}
    first: dict[str, int] = {}  # each id's first place in the batch
    for position, item in enumerate(items):
        if isinstance(item, dict) and as_uuid(item.get("id")) is not None:
            first.setdefault(str(as_uuid(item["id"])), position)
    batch = {str(key): index for index, (key, _, _) in plain.items()}
    checked: dict[int, tuple[Any, dict[str, Any], list[dict[str, Any]], dict[int, int]]] = {}
    for index, (key, _, _) in plain.items():
        try:
            loaded = validated[index]
            if isinstance(loaded, WriteValidationError):
                raise loaded
            clean = dict(loaded.data)
            check_tags(clean.get("tags") or [], tags)
            relations = clean.pop("relations", None) or []
            resolved, waits = [], {}  # waits: relation -> the creation of the batch it needs
            for i, r in enumerate(relations):
                target = targets.get(str(r["target"]))
                wanted = str(as_uuid(r["target"])) if as_uuid(r["target"]) else None
                if target is None and wanted in batch and wanted != str(key):
                    target, waits[i] = wanted, batch[wanted]
                resolved.append({"type": r["type"], "target": target})
            missing = [i for i, r in enumerate(resolved) if r["target"] is None]
            if missing:
                # A target by id that is not here and comes no earlier in the batch: the
                # single PUT's 422 naming it, without running it. Any other: run it.
                named = [str(relations[i]["target"]) for i in missing]
                if any(as_uuid(t) is None or first.get(str(as_uuid(t)), index) < index
                       for t in named):
                    continue
                raise _no_such_entry(relations, missing)
            checked[index] = (loaded, clean, resolved, waits)
        except WriteValidationError as exc:
            outcomes[index] = _outcome(key, invalid(exc.messages))
    plans = _plans(plain, checked, outcomes, taken, rendered)
    if not plans:
        return outcomes
    try:
        create_entries(list(plans.values()), author=author())
        db.session.commit()
    except WriteValidationError:
        db.session.rollback()
        return outcomes
    # A first mirror grows the tables many times over: the planner's statistics follow
    # (autovacuum analyzes late), or the next batches' lookups scan instead of probing.
    if len(plans) > GROWTH * (db.session.scalar(_ESTIMATE) or 0):
        db.session.execute(_ANALYZE)
        db.session.commit()
    for index in plans:
        outcomes[index] = {"id": str(plain[index][0]), "status": 201, "version": 1}
    return outcomes


def _no_such_entry(relations: list[dict[str, Any]], missing: list[int]
                   ) -> WriteValidationError:
    return WriteValidationError({f"relations.{i}.target": [coded(
        "no_such_entry", "No entry {value!r}.", value=relations[i]["target"])]
        for i in missing})


def _plans(plain: dict[int, tuple[uuid.UUID, dict[str, Any], SourceRef]],
           checked: dict[int, tuple[Any, dict[str, Any], list[dict[str, Any]],
                                    dict[int, int]]],
           outcomes: dict[int, dict[str, Any]], taken: set[str],
           rendered: dict[int, Rendering | None]) -> dict[int, NewEntry]:
    """The checked items rendered for create_entries, in the batch's order. An item
    whose link needs a creation of the batch that is refused is refused in turn (the
    single PUT's 422 naming that target), until what is left holds together."""
    alive = dict(checked)
    while True:
        for index, (_, _, _, waits) in list(alive.items()):
            gone = [i for i, needed in waits.items() if needed not in alive]
            if gone:
                del alive[index]
                relations = plain[index][1].get("relations") or []
                outcomes[index] = _outcome(plain[index][0], invalid(
                    _no_such_entry(relations, sorted(gone)).messages))
        if any(needed not in alive for _, _, _, waits in alive.values()
               for needed in waits.values()):
            continue
        plans: dict[int, NewEntry] = {}
        used = set(taken)
        refused = False
        for index, (loaded, clean, resolved, _) in alive.items():
            key, _, source = plain[index]
            try:
                if clean.get("slug") in used:
                    raise WriteValidationError({"slug": [SLUG_TAKEN]})
                ready = rendered.get(index)
                if ready is not None and ready[0] == resolved:
                    if isinstance(ready[1], WriteValidationError):
                        raise ready[1]
                    plans[index] = ready[1]
                else:
                    plans[index] = new_entry(CleanEntry(clean, loaded.slug_base), source,
                                             entry_id=key, relations=resolved,
                                             fill_codes=True, communes=commune_index())
            except WriteValidationError as exc:
                outcomes[index] = _outcome(key, invalid(exc.messages))
                del alive[index]
                refused = True
                break
            if clean.get("slug"):
                used.add(clean["slug"])
        if not refused:
            return plans


def _targets(wanted: set[str]) -> dict[str, str]:
    """Link targets named by UUID -> the local entry's id (its own, or an alias's), as the
    single PUT reads them; slugs and unknown ids are left to it."""
    keys = [k for k in (as_uuid(w) for w in wanted) if k is not None]
    if not keys:
        return {}
    found = {str(k): str(k) for k in db.session.scalars(select(Entry.id).where(
        Entry.id.in_(keys)))}
    for alias, local in db.session.execute(select(IdentityLink.alias_id, IdentityLink.entity_id)
                                           .where(IdentityLink.entity_type == "entry",
                                                  IdentityLink.alias_id.in_(keys))):
        found.setdefault(str(alias), str(local))
    return found
