"""What an entry may hold, checked the same way for forms, the API, imports and the demo."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from marshmallow import ValidationError, fields, validate, validates, validates_schema

from ..models.vocab import (
    ENTRY_KINDS,
    ENTRY_STATUSES,
    MODERATION_STATES,
    RELATION_TYPES,
)
from ..services.errors import coded
from .common import InputSchema, slug_field, text

MAX_DESCRIPTION = 20_000
PHONE_RE = re.compile(r"^\+?[0-9 ().\-/]{4,40}$")


class RelationInputSchema(InputSchema):
    type = fields.String(required=True, validate=validate.OneOf(RELATION_TYPES))
    # The target entry, by UUID or slug.
    target = fields.String(required=True, validate=validate.Length(min=1, max=120))


class EntryInputSchema(InputSchema):
    """Entry fields as written by people and programs.

    Positions are `lon` and `lat` in WGS 84 degrees; give both or neither.
    """

    slug = slug_field(allow_none=True)
    kind = fields.String(required=True, validate=validate.OneOf(ENTRY_KINDS))
    name = text(200, required=True)
    summary = text(500)
    description = fields.String(allow_none=True, validate=validate.Length(
        max=MAX_DESCRIPTION, error=coded("too_long", "At most {max} characters.")))
    lon = fields.Float(allow_none=True, allow_nan=False, validate=validate.Range(
        -180, 180, error=coded("longitude_range", "Longitude must be between -180 and 180.")))
    lat = fields.Float(allow_none=True, allow_nan=False, validate=validate.Range(
        -90, 90, error=coded("latitude_range", "Latitude must be between -90 and 90.")))
    street = text(200)
    postcode = text(20)
    city = text(120)
    country = fields.String(allow_none=True, validate=validate.Regexp(
        r"^[A-Z]{2}$", error=coded("country_code", "Use a two-letter ISO 3166-1 code such as FR.")))
    website = fields.Url(allow_none=True, schemes={"http", "https"}, require_tld=True,
                         validate=validate.Length(max=500))
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    phone = fields.String(allow_none=True, validate=validate.Regexp(
        PHONE_RE, error=coded("phone_format", "Use digits, spaces and + ( ) . - only.")))
    opening_hours = text(500)
    licence = text(100)
    status = fields.String(load_default="active",
                           validate=validate.OneOf(ENTRY_STATUSES))
    founded = fields.Integer(allow_none=True, strict=False)
    moderation = fields.String(load_default="published",
                               validate=validate.OneOf(MODERATION_STATES))
    tags = fields.List(slug_field(), load_default=list)
    relations = fields.List(fields.Nested(RelationInputSchema), load_default=list)

    @validates("founded")
    def check_founded(self, value: int | None, **_: Any) -> None:
        if value is not None and not 1000 <= value <= date.today().year + 5:
            raise ValidationError(coded("year_range", "A year between {min} and {max}.",
                                        min=1000, max=date.today().year + 5))

    @validates_schema
    def check_position(self, data: dict[str, Any], **_: Any) -> None:
        if "lon" in data or "lat" in data:
            has_lon, has_lat = data.get("lon") is not None, data.get("lat") is not None
            if has_lon != has_lat:
                missing = "lat" if has_lon else "lon"
                raise ValidationError(coded("position_pair",
                                            "Give both longitude and latitude, or neither."),
                                      missing)
