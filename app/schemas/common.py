"""Fields and hooks shared by the input schemas."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from ..normalise import clean_text

SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class InputSchema(Schema):
    """Normalises and strips text (app/normalise.py), and turns blank optional strings
    into None: forms send "". Refuses NUL, which PostgreSQL text cannot hold (the web
    refuses it earlier, app/http/input_guard.py; imports, sync and dumps meet it here)."""

    @pre_load
    def blank_to_none(self, data: Any, **_: Any) -> Any:
        if not isinstance(data, dict):
            return data
        cleaned, refused = {}, {}
        for key, value in data.items():
            if isinstance(value, str):
                if "\x00" in value:
                    refused[key] = ["Contains a NUL character (U+0000), which cannot be "
                                    "stored."]
                value = clean_text(value)
            cleaned[key] = value
        if refused:
            raise ValidationError(refused)
        return cleaned


def text(max_length: int, *, required: bool = False) -> fields.String:
    return fields.String(
        required=required, allow_none=not required,
        validate=validate.Length(min=1 if required else 0, max=max_length,
                                 error="Between {min} and {max} characters."),
        error_messages={"null": "This field is required.",
                        "required": "This field is required."})


def slug_field(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=[validate.Length(max=120), validate.Regexp(
            SLUG_PATTERN, error="Use lowercase letters, digits and single hyphens.")],
        **kwargs)
