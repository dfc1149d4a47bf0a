"""An evaluation key as the assembly writes it on its page: labels, question, description,
what each level 0–4 means, in French and English."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from ..models.vocab import LEVEL_MAX, LEVEL_MIN
from ..services.errors import coded
from .common import SLUG_PATTERN, InputSchema, text

KEY_SLUG_MAX = 40  # evaluation_keys.slug
KEY_LABEL_MAX = 80  # evaluation_keys.label_fr, label_en
QUESTION_MAX = 1_000
DESCRIPTION_MAX = 5_000
DEFINITION_MAX = 300
LEVELS = LEVEL_MAX - LEVEL_MIN + 1
LANGUAGES = ("fr", "en")


class EvaluationKeyInputSchema(InputSchema):
    slug = fields.String(required=True, validate=[
        validate.Length(min=1, max=KEY_SLUG_MAX, error=coded(
            "length_between", "Between {min} and {max} characters.")),
        validate.Regexp(SLUG_PATTERN, error=coded(
            "slug_format", "Use lowercase letters, digits and single hyphens."))])
    label_fr = text(KEY_LABEL_MAX, required=True)
    label_en = text(KEY_LABEL_MAX, required=True)
    question_fr = text(QUESTION_MAX, required=True)
    question_en = text(QUESTION_MAX, required=True)
    description_fr = text(DESCRIPTION_MAX)
    description_en = text(DESCRIPTION_MAX)
    # {"fr": [5 strings], "en": [5 strings]}; a blank definition is "".
    level_definitions = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                                    allow_none=True, load_default=None)

    @validates_schema
    def _definitions(self, data: dict[str, Any], **_: Any) -> None:
        given = data.get("level_definitions")
        if given is None:
            return
        errors: dict[str, list[str]] = {}
        for lang, texts in given.items():
            if lang not in LANGUAGES or len(texts) != LEVELS:
                errors[f"level_definitions.{lang}"] = [coded(
                    "level_definitions", "Give {levels} definitions (levels {min}–{max}) "
                    "in fr and en.", levels=LEVELS, min=LEVEL_MIN, max=LEVEL_MAX)]
                continue
            for level, definition in enumerate(texts):
                if len(definition) > DEFINITION_MAX:
                    errors[f"level_definitions.{lang}.{level}"] = [coded(
                        "too_long", "At most {max} characters.", max=DEFINITION_MAX)]
        if errors:
            raise ValidationError(errors)
