"""marshmallow schemas of the API: what it answers and what it is asked.

They document the API (the OpenAPI document is generated from them) and parse
the query strings; filters themselves are read by `app.query.parse_filter`, and
the JSON of entries is built in PostgreSQL from `app.formats.public`. The entry
schema is generated from PUBLIC_FIELDS and the entry-field registry, so a public field
cannot be missing here.
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from .. import entry_fields
from ..formats.public import PUBLIC_FIELDS
from ..models.vocab import ENTRY_KINDS, ENTRY_STATUSES, LEVEL_MAX, LEVEL_MIN, RELATION_TYPES
from ..query.entries import SORTS
from ..query.filters import MAX_RADIUS_M, MAX_TEXT_LENGTH, PROPERTY_FILTERS
from ..query.paging import MAX_LIMIT

NUMBER = r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?"
BBOX_PATTERN = rf"^{NUMBER},{NUMBER},{NUMBER},{NUMBER}$"
NEAR_PATTERN = rf"^{NUMBER},{NUMBER}$"


# One marshmallow field per public field, with its documentation: the registry's plain
# fields (app/entry_fields.py) and the others.
PUBLIC_FIELD_TYPES: dict[str, fields.Field] = {
    "id": fields.UUID(required=True, metadata={"description": "Stable id, across databases."}),
    **{f.name: f.output_field() for f in entry_fields.FIELDS if f.public},
    "lon": fields.Float(allow_none=True, metadata={"description": "WGS 84 longitude; null "
                                                   "for an entry without a place."}),
    "lat": fields.Float(allow_none=True, metadata={"description": "WGS 84 latitude."}),
    "tags": fields.List(fields.String(), required=True,
                        metadata={"description": "Tag slugs, sorted."}),
    "created_at": fields.DateTime(required=True),
    "updated_at": fields.DateTime(required=True),
    "version": fields.Integer(required=True, metadata={"description": "Bumped by every write."}),
}
_missing = set(PUBLIC_FIELDS) ^ set(PUBLIC_FIELD_TYPES)
if _missing:  # pragma: no cover - a developer error, caught at import
    raise RuntimeError(f"public fields without an API type: {sorted(_missing)}")


class Strict(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


EntrySchema = Strict.from_dict(
    {name: PUBLIC_FIELD_TYPES[name] for name in PUBLIC_FIELDS}, name="Entry")
PropertiesSchema = Strict.from_dict(
    {name: PUBLIC_FIELD_TYPES[name] for name in PUBLIC_FIELDS
     if name not in ("id", "lon", "lat")}, name="EntryProperties")


class EntryPageSchema(Strict):
    items = fields.List(fields.Nested(EntrySchema), required=True)
    next = fields.String(allow_none=True, required=True,
                         metadata={"description": "URL of the next page; null on the last."})
    next_cursor = fields.String(allow_none=True, required=True)


class PointSchema(Strict):
    type = fields.String(required=True, validate=validate.Equal("Point"))
    coordinates = fields.List(fields.Float(), required=True,
                              validate=validate.Length(equal=2),
                              metadata={"description": "[longitude, latitude]"})


class FeatureSchema(Strict):
    type = fields.String(required=True, validate=validate.Equal("Feature"))
    id = fields.UUID(required=True)
    geometry = fields.Nested(PointSchema, required=True, allow_none=True)
    properties = fields.Nested(PropertiesSchema, required=True)
    links = fields.List(fields.Nested(lambda: LinkSchema()), metadata={
        "description": "OGC API item answers: self, alternate and collection links."})


class LinkSchema(Schema):
    href = fields.String(required=True)
    rel = fields.String(required=True)
    type = fields.String()
    title = fields.String()


class FeatureCollectionSchema(Schema):
    type = fields.String(required=True, validate=validate.Equal("FeatureCollection"))
    features = fields.List(fields.Nested(FeatureSchema), required=True)
    links = fields.List(fields.Nested(LinkSchema))
    numberReturned = fields.Integer()  # OGC API's names
    numberMatched = fields.Integer()
    timeStamp = fields.DateTime()


class RelatedSchema(Strict):
    id = fields.UUID(required=True)
    slug = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)


class RelationSchema(Strict):
    type = fields.String(required=True, validate=validate.OneOf(RELATION_TYPES))
    direction = fields.String(required=True, validate=validate.OneOf(("out", "in")),
                              metadata={"description": "out: this entry → other; "
                                                       "in: other → this entry."})
    entry = fields.Nested(RelatedSchema, required=True)


class FieldProvenanceSchema(Strict):
    field = fields.String(required=True, metadata={"description": "An entry field, or "
                                                   "`position`."})
    label = fields.String(required=True)
    origin = fields.String(required=True, allow_none=True,
                           metadata={"description": "The source's origin; null: an editor."})
    source = fields.String(required=True, metadata={"description": "Who, in words."})
    at = fields.DateTime(required=True, metadata={"description": "Since when."})


class ProvenanceSchema(Strict):
    fields = fields.List(fields.Nested(FieldProvenanceSchema), required=True)


class RelationListSchema(Strict):
    items = fields.List(fields.Nested(RelationSchema), required=True)


class AnswerSchema(Strict):
    key = fields.String(required=True)
    level = fields.Integer(allow_none=True, required=True,
                           validate=validate.Range(LEVEL_MIN, LEVEL_MAX))
    strengths = fields.String(allow_none=True, required=True)
    limits = fields.String(allow_none=True, required=True)
    stakes = fields.String(allow_none=True, required=True)


class EvaluationSchema(Strict):
    id = fields.UUID(required=True)
    entry_id = fields.UUID(required=True)
    title = fields.String(required=True)
    held_on = fields.Date(required=True)
    authors = fields.String(allow_none=True, required=True)
    version = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    answers = fields.List(fields.Nested(AnswerSchema), required=True)


class EvaluationListSchema(Strict):
    items = fields.List(fields.Nested(EvaluationSchema), required=True)


class TagSchema(Strict):
    slug = fields.String(required=True)
    label_fr = fields.String(required=True)
    label_en = fields.String(required=True)
    group = fields.String(required=True)
    entries = fields.Integer(required=True, metadata={"description": "Published entries "
                                                                     "with this tag."})


class TagListSchema(Strict):
    items = fields.List(fields.Nested(TagSchema), required=True)


class EvaluationKeySchema(Strict):
    slug = fields.String(required=True)
    position = fields.Integer(required=True)
    label_fr = fields.String(required=True)
    label_en = fields.String(required=True)
    question_fr = fields.String(required=True)
    question_en = fields.String(required=True)
    retired_at = fields.DateTime(required=True, allow_none=True, metadata={
        "description": "When the key was retired (null: in use): new sheets leave it out, "
                       "the sheets that answered it keep their answers."})


class EvaluationKeyListSchema(Strict):
    items = fields.List(fields.Nested(EvaluationKeySchema), required=True)


class DeletionSchema(Strict):
    op = fields.String(required=True, validate=validate.Equal("delete"))
    id = fields.UUID(required=True)
    deleted_at = fields.DateTime(required=True)


class OutgoingRelationSchema(Strict):
    type = fields.String(required=True, validate=validate.OneOf(RELATION_TYPES))
    target = fields.UUID(required=True)


class UpsertSchema(Strict):
    op = fields.String(required=True, validate=validate.Equal("upsert"))
    id = fields.UUID(required=True)
    entry = fields.Nested(EntrySchema, required=True)
    relations = fields.List(fields.Nested(OutgoingRelationSchema), required=True, metadata={
        "description": "The entry's links to other public entries (this entry → target), "
                       "sorted by type then target."})
    aliases = fields.List(fields.UUID(), required=True, metadata={
        "description": "Other ids of the same entry (another instance's twin, the demo's "
                       "stable id): a mirror that knows one of them links instead of "
                       "creating it twice."})


def change_field() -> fields.Field:
    """An upsert or a deletion (documented as oneOf)."""
    return fields.Raw(metadata={"oneOf": [{"$ref": "#/components/schemas/Upsert"},
                                          {"$ref": "#/components/schemas/Deletion"}]})


class SheetUpsertSchema(Strict):
    op = fields.String(required=True, validate=validate.Equal("upsert"))
    id = fields.UUID(required=True)
    entry_id = fields.UUID(required=True)
    sheet = fields.Nested(EvaluationSchema, required=True)
    aliases = fields.List(fields.UUID(), required=True, metadata={
        "description": "Other ids of the same sheet."})


class SheetDeletionSchema(Strict):
    op = fields.String(required=True, validate=validate.Equal("delete"))
    id = fields.UUID(required=True)
    entry_id = fields.UUID(required=True)
    deleted_at = fields.DateTime(required=True)


class SheetChangePageSchema(Strict):
    changes = fields.List(fields.Raw(metadata={"oneOf": [
        {"$ref": "#/components/schemas/SheetUpsert"},
        {"$ref": "#/components/schemas/SheetDeletion"}]}), required=True)
    next_cursor = fields.String(required=True)
    has_more = fields.Boolean(required=True)
    next = fields.String(required=True)


class ChangePageSchema(Strict):
    changes = fields.List(change_field(), required=True)
    next_cursor = fields.String(required=True, metadata={
        "description": "Give it as `since` on the next call, even when nothing changed."})
    has_more = fields.Boolean(required=True, metadata={
        "description": "More changes are ready now: call `next` at once."})
    next = fields.String(required=True)


class ProblemSchema(Schema):
    """RFC 9457 problem details."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String()
    invalid_params = fields.List(fields.Dict(), data_key="invalid-params")
    # Extension members (RFC 9457 §3.2) some answers carry.
    current_version = fields.Integer(metadata={
        "description": "412: the entry's version now; retry with its ETag."})
    id = fields.UUID(metadata={"description": "410: the deleted entry's id."})
    deleted_at = fields.DateTime(metadata={"description": "410: when it was deleted."})


# -- query strings ------------------------------------------------------------------------

def _list(description: str, enum: tuple[str, ...] | None = None) -> fields.List:
    item = fields.String(metadata={"enum": list(enum)} if enum else {})
    return fields.List(item, metadata={"description": description})


FILTER_ARGS: dict[str, fields.Field] = {
    "kind": _list("Entry kinds (repeat or comma-separate).", ENTRY_KINDS),
    "tag": _list("Tag slugs; an entry matches if it has any of them."),
    "bbox": fields.String(metadata={
        "description": "minLon,minLat,maxLon,maxLat (WGS 84).", "pattern": BBOX_PATTERN}),
    "near": fields.String(metadata={"description": "lon,lat: entries within `radius`.",
                                    "pattern": NEAR_PATTERN}),
    "radius": fields.Float(metadata={"description": f"Metres around `near` (default 1000, "
                                                    f"at most {MAX_RADIUS_M})."}),
    "q": fields.String(metadata={"description": "French full-text search, accent-blind.",
                                 "maxLength": MAX_TEXT_LENGTH}),
    "status": _list("Entry statuses.", ENTRY_STATUSES),
    "updated_since": fields.String(metadata={"description": "ISO 8601 date or date-time."}),
    "located": fields.Boolean(metadata={"description": "true: only entries with a place; "
                                                       "false: only those without."}),
    **{name: fields.String(metadata={"description": f"Entries whose {name} equals this."})
       for name in PROPERTY_FILTERS},
}
LIMIT_ARG = fields.Integer(metadata={
    "description": f"Page size, default 100; larger values are clamped to {MAX_LIMIT}.",
    "minimum": 1})

EntryListArgs = Strict.from_dict({
    **FILTER_ARGS,
    "sort": fields.String(metadata={"enum": list(SORTS), "description":
                                    "Order (default `id`); `relevance` goes with `q`, "
                                    "`distance` with `near`."}),
    "limit": LIMIT_ARG,
    "cursor": fields.String(metadata={"description": "From a `next` link; opaque."}),
}, name="EntryListArgs")
GeoJSONArgs = Strict.from_dict(dict(FILTER_ARGS), name="GeoJSONArgs")


class ChangeArgs(Strict):
    since = fields.String(metadata={"description": "`next_cursor` of the previous call; "
                                                   "absent: from the start."})
    limit = fields.Integer(metadata={"description": "Changes per call, default 100, at "
                                                    f"most {MAX_LIMIT}.", "minimum": 1})
