"""An evaluation sheet and its answers, one per key."""

from __future__ import annotations

from marshmallow import fields, validate

from ..models.vocab import EVALUATION_STATES, LEVEL_MAX, LEVEL_MIN
from ..services.errors import coded
from .common import InputSchema, text

MAX_ANSWER_TEXT = 20_000


class AnswerInputSchema(InputSchema):
    level = fields.Integer(allow_none=True, strict=False, validate=validate.Range(
        LEVEL_MIN, LEVEL_MAX, error=coded("level_range", "A level from {min} to {max}, or none.")))
    strengths = fields.String(allow_none=True, validate=validate.Length(max=MAX_ANSWER_TEXT))
    limits = fields.String(allow_none=True, validate=validate.Length(max=MAX_ANSWER_TEXT))
    stakes = fields.String(allow_none=True, validate=validate.Length(max=MAX_ANSWER_TEXT))


class EvaluationInputSchema(InputSchema):
    title = text(200, required=True)
    held_on = fields.Date(required=True)
    authors = text(500)
    state = fields.String(load_default="draft", validate=validate.OneOf(EVALUATION_STATES))
    # Keyed by evaluation key slug: {"governance": {...}, ...}
    answers = fields.Dict(keys=fields.String(), values=fields.Nested(AnswerInputSchema),
                          load_default=dict)
