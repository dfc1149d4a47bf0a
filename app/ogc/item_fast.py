"""One OGC item in JSON on a path with nothing else to do.

A single feature is the stored JSON text of one entry (app/models/feature.py): the
answer is that text plus its links. The general path (app.http.conditional, then
the ORM session) costs two round trips to PostgreSQL and a response cache that a
single row does not need; here one statement, prepared as text once per collection,
reads the data state and the feature together on a pooled connection. The ETag is
the one the general path gives (data state, URL, representation), so caches and
clients see one validator whichever path answered.

Anything else (HTML, other parameters, a malformed id, a missing feature) goes the
general way, which explains itself.
"""

from __future__ import annotations

import functools
import hashlib
import uuid

import orjson
from flask import Response, request
from sqlalchemy import literal_column, select
from sqlalchemy.dialects import postgresql

from ..extensions import db
from ..formats.geojson import MEDIA_TYPE as GEOJSON
from ..formats.geojson import feature_json
from ..http.conditional import DATA_CACHE_CONTROL
from ..models import Entry
from ..query import EntryFilter
from ..query.entries import conditions
from ..query.state import STATE_SQL, state_of
from .provider import Collection


@functools.cache
def item_sql(kind: str | None) -> str:
    """The data state's four columns and the public feature of id %(id)s, in one SELECT."""
    f = EntryFilter(kinds=(kind,) if kind else ())
    stmt = select(feature_json()).where(
        Entry.id == literal_column("CAST(ITEM_ID_PLACEHOLDER AS uuid)"), *conditions(f))
    # Compiled for psycopg2's paramstyle (a literal % comes out as %%), then the id's slot.
    feature = str(stmt.compile(dialect=postgresql.psycopg2.dialect(),
                               compile_kwargs={"literal_binds": True})
                  ).replace("ITEM_ID_PLACEHOLDER", "%(id)s")
    # Our own constants only (the collection's kind); the id stays a bound parameter.
    return f"SELECT s.*, ({feature}) FROM ({STATE_SQL.text}) AS s"  # noqa: S608


def fast_item(collection: Collection, feature_id: str, links: list[dict]) -> Response | None:
    """The JSON answer (or a 304), or None when the general path must answer."""
    try:
        uuid.UUID(feature_id)
    except ValueError:
        return None
    with db.engine.connect() as conn:
        top, last, running, below, text = conn.exec_driver_sql(
            item_sql(collection.kind), {"id": feature_id}).one()
    if text is None:
        return None
    state = state_of(top, last, running, below)
    etag = hashlib.sha256(f"{state.token}|{request.full_path}|json".encode()).hexdigest()[:32]
    if request.if_none_match:
        fresh = request.if_none_match.contains_weak(etag)
    else:
        ims = request.if_modified_since
        fresh = bool(ims and state.last_modified is not None
                     and state.last_modified.replace(microsecond=0) <= ims)
    if fresh:
        response = Response(status=304)
    else:
        body = text[:-1] + ',"links":' + orjson.dumps(links).decode() + "}"
        response = Response(body, mimetype=GEOJSON)
    response.set_etag(etag, weak=True)
    if state.last_modified is not None:
        response.last_modified = state.last_modified
    response.headers["Cache-Control"] = DATA_CACHE_CONTROL
    response.vary.add("Accept")
    return response
