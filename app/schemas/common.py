"""Fields and hooks shared by the input schemas."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from ..normalise import clean_text
from ..services.errors import ErrorMessage, coded

SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"

# marshmallow's own messages, by the key it raises them under: their codes.
FIELD_CODES = {"required": "required", "null": "required", "too_large": "number_too_large",
               "special": "special_number", "type": "invalid_type",
               "invalid_uuid": "invalid_uuid", "invalid_utf8": "invalid_string"}
# Its "invalid" message, by field class.
INVALID_CODES = {fields.Email: "invalid_email", fields.Url: "invalid_url",
                 fields.Integer: "invalid_integer", fields.Number: "invalid_number",
                 fields.Date: "invalid_date", fields.List: "invalid_list",
                 fields.Dict: "invalid_mapping", fields.String: "invalid_string"}
# Its validators' messages, when a field gives none of its own.
VALIDATOR_CODES = {validate.Email: "invalid_email", validate.URL: "invalid_url",
                   validate.OneOf: "one_of", validate.Length: "too_long",
                   validate.Range: "out_of_range", validate.Regexp: "invalid_format"}


def _invalid_code(field: fields.Field) -> str:
    return next((code for cls, code in INVALID_CODES.items() if isinstance(field, cls)),
                "invalid")


def code_messages(field: fields.Field) -> None:
    """Give every message `field` may raise its code (app.services.errors.ErrorMessage)."""
    for key, message in list(field.error_messages.items()):
        if isinstance(message, str) and not isinstance(message, ErrorMessage):
            code = _invalid_code(field) if key == "invalid" else FIELD_CODES.get(key, key)
            field.error_messages[key] = coded(code, message)
    for validator in field.validators:
        error = getattr(validator, "error", None)
        if isinstance(validator, validate.Length) and error is None:
            validator.error = coded("too_long", "Longer than maximum length {max}.")
        elif isinstance(error, str) and not isinstance(error, ErrorMessage):
            code = next((c for cls, c in VALIDATOR_CODES.items() if isinstance(validator, cls)),
                        "invalid")
            validator.error = coded(code, error)
    for inner in (getattr(field, "inner", None), getattr(field, "value_field", None)):
        if isinstance(inner, fields.Field):
            code_messages(inner)


class InputSchema(Schema):
    """Normalises and strips text (app/normalise.py), and turns blank optional strings
    into None: forms send "". Refuses NUL, which PostgreSQL text cannot hold (the web
    refuses it earlier, app/http/input_guard.py; imports, sync and dumps meet it here).
    Every message it gives has a code (`code_messages`)."""

    error_messages: ClassVar[dict[str, str]] = {"unknown": coded("unknown_field", "Unknown field."),
                                                "type": coded("invalid_type",
                                                              "Invalid input type.")}

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        code_messages(field_obj)

    @pre_load
    def blank_to_none(self, data: Any, **_: Any) -> Any:
        if not isinstance(data, dict):
            return data
        cleaned, refused = {}, {}
        for key, value in data.items():
            if isinstance(value, str):
                if "\x00" in value:
                    refused[key] = [coded("nul_character", "Contains a NUL character "
                                          "(U+0000), which cannot be stored.")]
                value = clean_text(value)
            cleaned[key] = value
        if refused:
            raise ValidationError(refused)
        return cleaned


def text(max_length: int, *, required: bool = False) -> fields.String:
    return fields.String(
        required=required, allow_none=not required,
        validate=validate.Length(min=1 if required else 0, max=max_length,
                                 error=coded("length_between",
                                             "Between {min} and {max} characters.")),
        error_messages={"null": coded("required", "This field is required."),
                        "required": coded("required", "This field is required.")})


def slug_field(**kwargs: Any) -> fields.String:
    return fields.String(
        validate=[validate.Length(max=120), validate.Regexp(
            SLUG_PATTERN, error=coded("slug_format",
                                      "Use lowercase letters, digits and single hyphens."))],
        **kwargs)
