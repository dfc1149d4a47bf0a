"""What an entry may hold, checked the same way for forms, the API, imports and the demo.

The plain fields and their rules come from the registry (app/entry_fields.py); this
schema adds the structured parts: the position, the tags and the relations.
"""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from .. import entry_fields
from ..models.vocab import RELATION_TYPES
from ..services.errors import coded
from .common import InputSchema, slug_field


class RelationInputSchema(InputSchema):
    type = fields.String(required=True, validate=validate.OneOf(RELATION_TYPES))
    # The target entry, by UUID or slug.
    target = fields.String(required=True, validate=validate.Length(min=1, max=120))


def structured_fields() -> dict[str, fields.Field]:
    """The position, the tags and the relations (after the registry's fields)."""
    return {
        "lon": fields.Float(allow_none=True, allow_nan=False, validate=validate.Range(
            -180, 180, error=coded("longitude_range",
                                   "Longitude must be between -180 and 180."))),
        "lat": fields.Float(allow_none=True, allow_nan=False, validate=validate.Range(
            -90, 90, error=coded("latitude_range", "Latitude must be between -90 and 90."))),
        "tags": fields.List(slug_field(), load_default=list),
        "relations": fields.List(fields.Nested(RelationInputSchema), load_default=list),
    }


class _EntryInputRules(InputSchema):
    """The rule across fields: a position is both coordinates or none."""

    @validates_schema
    def check_position(self, data: dict[str, Any], **_: Any) -> None:
        if "lon" in data or "lat" in data:
            has_lon, has_lat = data.get("lon") is not None, data.get("lat") is not None
            if has_lon != has_lat:
                missing = "lat" if has_lon else "lon"
                raise ValidationError(coded("position_pair",
                                            "Give both longitude and latitude, or neither."),
                                      missing)


def _entry_schema(name: str, doc: str, *, strict: bool) -> type[InputSchema]:
    return type(_EntryInputRules)(name, (_EntryInputRules,), {
        "__doc__": doc, "__module__": __name__,
        **{f.name: f.input_field(strict=strict) for f in entry_fields.FIELDS},
        **structured_fields(),
    })


EntryInputSchema = _entry_schema(
    "EntryInputSchema", "Entry fields as written by people and programs.\n\n"
    "Positions are `lon` and `lat` in WGS 84 degrees; give both or neither.", strict=True)
# The same without the rules of people's input (`EntryField.strict_check`): what imports,
# sync and dump restores load, keeping a value such as unparsable opening hours as text.
CopiedEntryInputSchema = _entry_schema(
    "CopiedEntryInputSchema", "Entry fields as copied from another source.", strict=False)
