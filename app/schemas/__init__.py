"""marshmallow schemas: every writer's input is validated here, with messages per field."""

from .entry import EntryInputSchema
from .evaluation import EvaluationInputSchema

__all__ = ["EntryInputSchema", "EvaluationInputSchema"]
