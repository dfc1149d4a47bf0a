"""The JSON API, version 1: entries, their relations and sheets, tags, keys, GeoJSON, changes.

Filters are `app.query`'s, fields are `app.formats.public`'s, and lists page by
keyset (`app.query.paging`). Entry JSON is built in PostgreSQL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
from flask import Response, request
from flask_smorest import Blueprint
from marshmallow import RAISE
from sqlalchemy import Text, and_, cast, func, select

from ..extensions import db
from ..formats import geojson
from ..formats.changes import change_json
from ..formats.public import public_json, public_record
from ..formats.sheet_changes import in_feed, sheet_change_json, sheet_record
from ..http.conditional import conditional, entry_validated
from ..http.json import dumps, json_response, raw_json_response
from ..http.problems import add_problem_handlers, problem
from ..http.streaming import streamed_response
from ..models import Entry, EvaluationKey, Relation, Tag, entry_tags
from ..query import EntryFilter, ParameterError, parse_filter, unknown_tags
from ..query.changes import SHEET_FEED, ChangePage, changes_after, decode_cursor
from ..query.entries import conditions
from ..query.filters import PROPERTY_FILTERS
from ..query.paging import Cursor, fetch_page, parse_limit, sort_keys
from ..query.sheets import sheets_of
from ..services.entries import find_entry
from ..services.errors import NotFoundError
from ..services.links import find_sheet, is_public_sheet
from . import schemas

blp = Blueprint("api_v1", __name__, url_prefix="/api/v1",
                description="Entries, relations, evaluation sheets, tags; GeoJSON; changes.")
add_problem_handlers(blp)
QUERY = {"location": "query", "unknown": RAISE, "error_status_code": 400}
ERRORS = (400, 404)


def documented(*codes: int):
    """Document the problem answers of an operation (application/problem+json)."""
    names = {304: "NOT_MODIFIED", 400: "BAD_REQUEST", 404: "NOT_FOUND", 410: "GONE"}

    def decorator(view):
        for code in reversed((304, *codes)):
            view = blp.alt_response(code, response=names[code])(view)
        return view

    return decorator


def entry_filter() -> EntryFilter:
    return parse_filter(request.args, tag_exists=unknown_tags, property_names=PROPERTY_FILTERS)


def page_url(**changes: str | None) -> str:
    """This URL with some query parameters replaced (None removes one)."""
    pairs = [(k, v) for k, v in request.args.items(multi=True) if k not in changes]
    pairs += [(k, v) for k, v in changes.items() if v is not None]
    return request.base_url + ("?" + urlencode(pairs) if pairs else "")


def public_entry(ref: str) -> Entry:
    """A published entry by UUID or slug; 404 if none, 410 (raised as NotFound) if deleted."""
    entry = find_entry(ref)
    if entry is None or entry.moderation != "published":
        raise NotFoundError(f"No entry {ref!r}.")
    return entry


def gone(entry: Entry) -> Response:
    return problem(410, "Gone", f"Entry {entry.id} was deleted.", id=str(entry.id),
                   deleted_at=entry.deleted_at.isoformat())


# -- entries --------------------------------------------------------------------------------

@blp.route("/entries")
@blp.arguments(schemas.EntryListArgs, **QUERY)
@blp.response(200, schemas.EntryPageSchema)
@documented(400)
@conditional()
def list_entries(_args: dict[str, Any]):
    """Entries, filtered, one page at a time.

    Follow `next` (also in the Link header) until it is null. Pages are keyset
    pages: deep pages cost what the first one costs.
    """
    f = entry_filter()
    sort = request.args.get("sort") or "id"
    if sort not in schemas.SORTS:
        raise ParameterError("sort", f"unknown value {sort!r}; expected one of "
                                     f"{', '.join(schemas.SORTS)}")
    if sort == "relevance" and not f.text:
        raise ParameterError("sort", "relevance goes with q")
    if sort == "distance" and f.near is None:
        raise ParameterError("sort", "distance goes with near")
    limit = parse_limit(request.args.get("limit"))
    keys = sort_keys(f, sort)
    raw_cursor = request.args.get("cursor")
    cursor = Cursor.decode(raw_cursor, sort, keys) if raw_cursor else None
    page = fetch_page(select(cast(public_json(), Text)).where(*conditions(f)), keys, sort,
                      limit, cursor)
    next_cursor = page.next.encode() if page.next else None
    next_url = page_url(cursor=next_cursor) if next_cursor else None
    body = ('{"items":[' + ",".join(row[0] for row in page.rows) + '],"next":'
            + dumps(next_url).decode() + ',"next_cursor":' + dumps(next_cursor).decode() + "}")
    response = raw_json_response(body)
    if next_url:
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return response


@blp.route("/entries.geojson")
@blp.arguments(schemas.GeoJSONArgs, **QUERY)
@blp.response(200, schemas.FeatureCollectionSchema, content_type=geojson.MEDIA_TYPE)
@documented(400)
@conditional()
def entries_geojson(_args: dict[str, Any]):
    """Every matching entry as one GeoJSON FeatureCollection (RFC 7946), streamed.

    With no filter, this is the whole base in one answer. Entries without a place
    have a null geometry (`located=true` leaves them out).
    """
    f = entry_filter()
    stmt = select(geojson.feature_json()).where(*conditions(f)).order_by(Entry.id)
    chunks = geojson.stream_features(stmt, geojson.collection_head(), "]}")
    return streamed_response(chunks, mimetype=geojson.MEDIA_TYPE)


@blp.route("/entries/<ref>")
@blp.response(200, schemas.EntrySchema)
@documented(404, 410)
def get_entry(ref: str):
    """One entry, by UUID or slug. A deleted entry answers 410 Gone with its deletion time.

    The ETag is strong and per entry, `"v<version>"`: give it in `If-Match` to update
    the entry (PUT, PATCH, DELETE), or in `If-None-Match` to get a 304.
    """
    entry = public_entry(ref)
    if entry.deleted_at is not None:
        return gone(entry)
    return entry_validated(entry, lambda: json_response(public_record(entry)))


@blp.route("/entries/<ref>/relations")
@blp.response(200, schemas.RelationListSchema)
@documented(404, 410)
@conditional()
def entry_relations(ref: str):
    """The typed links of an entry, both ways, to entries the public can see."""
    entry = public_entry(ref)
    if entry.deleted_at is not None:
        return gone(entry)
    visible = and_(*conditions(EntryFilter()))
    items = []
    for direction, own, other in (("out", Relation.source_id, Relation.target_id),
                                  ("in", Relation.target_id, Relation.source_id)):
        rows = db.session.execute(
            select(Relation.type, Entry.id, Entry.slug, Entry.name, Entry.kind)
            .join(Entry, Entry.id == other)
            .where(own == entry.id, visible)
            .order_by(Relation.type, Entry.slug)).all()
        items += [{"type": t, "direction": direction,
                   "entry": {"id": str(i), "slug": s, "name": n, "kind": k}}
                  for t, i, s, n, k in rows]
    return json_response({"items": items})


@blp.route("/entries/<ref>/provenance")
@blp.response(200, schemas.ProvenanceSchema)
@documented(404, 410)
@conditional()
def entry_provenance(ref: str):
    """Who gave each field of an entry: a registered source (its origin and name) or an
    editor, and since when. A field with no recorded holder is left out."""
    from ..services.provenance import provenance_of

    entry = public_entry(ref)
    if entry.deleted_at is not None:
        return gone(entry)
    return json_response({"fields": [
        {"field": p.field, "label": p.label, "origin": p.origin, "source": p.source,
         "at": p.at.isoformat()} for p in provenance_of(entry)]})


@blp.route("/entries/<ref>/evaluations")
@blp.response(200, schemas.EvaluationListSchema)
@documented(404, 410)
@conditional()
def entry_evaluations(ref: str):
    """The published evaluation sheets of an entry, newest first, with one answer per key."""
    entry = public_entry(ref)
    if entry.deleted_at is not None:
        return gone(entry)
    sheets = db.session.scalars(sheets_of(entry.id)).all()
    return json_response({"items": [sheet_record(s) for s in sheets]})


# -- vocabularies ---------------------------------------------------------------------------

@blp.route("/tags")
@blp.response(200, schemas.TagListSchema)
@documented()
@conditional()
def list_tags():
    """Every tag, with its labels and the number of published entries that carry it."""
    counted = (select(entry_tags.c.tag_id, func.count().label("n"))
               .join(Entry, Entry.id == entry_tags.c.entry_id)
               .where(*conditions(EntryFilter()))
               .group_by(entry_tags.c.tag_id).subquery())
    rows = db.session.execute(
        select(Tag.slug, Tag.label_fr, Tag.label_en, Tag.group,
               func.coalesce(counted.c.n, 0))
        .outerjoin(counted, counted.c.tag_id == Tag.id).order_by(Tag.slug)).all()
    return json_response({"items": [
        {"slug": s, "label_fr": fr, "label_en": en, "group": grp, "entries": n}
        for s, fr, en, grp, n in rows]})


@blp.route("/evaluation-keys")
@blp.response(200, schemas.EvaluationKeyListSchema)
@documented()
@conditional()
def list_evaluation_keys():
    """The keys of the evaluation grid (governance, financing, …), in order."""
    keys = db.session.scalars(select(EvaluationKey).order_by(EvaluationKey.position)).all()
    return json_response({"items": [
        {"slug": k.slug, "position": k.position, "label_fr": k.label_fr,
         "label_en": k.label_en, "question_fr": k.question_fr, "question_en": k.question_en,
         "retired_at": k.retired_at.isoformat() if k.retired_at else None}
        for k in keys]})


# -- change feed ------------------------------------------------------------------------------

def feed_answer(page: ChangePage) -> Response:
    """A page of a change feed: its changes, the cursor to give next, whether more wait."""
    next_cursor = page.cursor.encode()
    body = ('{"changes":[' + ",".join(page.items) + '],"next_cursor":'
            + orjson.dumps(next_cursor).decode() + ',"has_more":'
            + ("true" if page.has_more else "false") + ',"next":'
            + orjson.dumps(page_url(since=next_cursor)).decode() + "}")
    response = raw_json_response(body)
    response.headers["Link"] = f'<{page_url(since=next_cursor)}>; rel="next"'
    return response


@blp.route("/changes")
@blp.arguments(schemas.ChangeArgs, **QUERY)
@blp.response(200, schemas.ChangePageSchema)
@documented(400)
@conditional()
def list_changes(_args: dict[str, Any]):
    """Every created, updated and deleted entry after a cursor, in order.

    Start without `since`; store `next_cursor` and give it as `since` next time
    (call again at once while `has_more`). Each entry appears at its latest state;
    deleted or withdrawn entries come as `{"op": "delete", "id", "deleted_at"}`.
    A change is handed out only once every older transaction has finished, so a
    mirror that follows the feed never misses a late commit.
    """
    raw = request.args.get("since")
    cursor = decode_cursor(raw) if raw else None
    page = changes_after(cursor, parse_limit(request.args.get("limit")), change_json())
    return feed_answer(page)



@blp.route("/evaluations")
@blp.arguments(schemas.ChangeArgs, **QUERY)
@blp.response(200, schemas.SheetChangePageSchema)
@documented(400)
@conditional()
def list_sheet_changes(_args: dict[str, Any]):
    """Every published evaluation sheet, then each change to one, after a cursor, in order.

    The same rules as `/changes`: start without `since`, store `next_cursor`, call
    again while `has_more`. A published sheet comes with its answers; one deleted,
    unpublished or whose entry was withdrawn comes as `{"op": "delete", "id",
    "entry_id", "deleted_at"}`; a sheet that was only ever a draft never appears.
    A cursor of `/changes` is not one of this feed.
    """
    raw = request.args.get("since")
    cursor = decode_cursor(raw, feed=SHEET_FEED) if raw else None
    page = changes_after(cursor, parse_limit(request.args.get("limit")), sheet_change_json(),
                         SHEET_FEED, in_feed())
    return feed_answer(page)


@blp.route("/evaluations/<uuid:sheet_id>")
@blp.response(200, schemas.EvaluationSchema)
@documented(404, 410)
def get_sheet(sheet_id):
    """One published sheet by its id (or another id of it); 410 once deleted or unpublished.

    The ETag is `"v<version>"`, as for entries: give it in `If-Match` to replace the
    sheet (PUT) or delete it.
    """
    sheet = find_sheet(sheet_id)
    if sheet is None or not sheet.ever_published:
        raise NotFoundError(f"No sheet {sheet_id}.")
    if not is_public_sheet(sheet):
        return problem(410, "Gone", f"Sheet {sheet.id} was deleted or unpublished.",
                       id=str(sheet.id))
    response = json_response(sheet_record(sheet))
    response.headers["ETag"] = f'"v{sheet.version}"'
    return response
