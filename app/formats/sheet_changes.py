"""A change of the sheets' feed as JSON, built in PostgreSQL.

`{"op": "upsert", "id", "entry_id", "sheet"}` for a published sheet of a public entry,
with its answers, in the shape of /api/v1/entries/<ref>/evaluations; else
`{"op": "delete", "id", "entry_id", "deleted_at"}` (deleted, unpublished, or its entry
withdrawn). The feed itself (app/query/changes.py, SHEET_FEED) leaves out sheets that
were never published: a draft is never named.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Text, and_, case, cast, exists, func, literal, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import aliased

from ..models import Answer, Entry, Evaluation
from ..query.sheets import published_sheet_conditions
from .changes import aliases_json
from .public import public_entry_condition

ANSWER_FIELDS = ("level", "strengths", "limits", "stakes")


def answers_json() -> ColumnElement:
    """The sheet's answers in the grid's order: [{"key", "level", "strengths", …}]."""
    item = func.json_build_object(literal("key"), Answer.key_slug,
                                  *[part for name in ANSWER_FIELDS
                                    for part in (literal(name), getattr(Answer, name))])
    aggregated = func.json_agg(aggregate_order_by(item, Answer.position, Answer.key_slug))
    return (select(func.coalesce(aggregated, func.json_build_array()))
            .where(Answer.evaluation_id == Evaluation.id)
            .correlate(Evaluation)
            .scalar_subquery())


def sheet_json() -> ColumnElement:
    """A sheet's public record as JSON."""
    return func.json_build_object(
        literal("id"), cast(Evaluation.id, Text),
        literal("entry_id"), cast(Evaluation.entry_id, Text),
        literal("title"), Evaluation.title,
        literal("held_on"), Evaluation.held_on,
        literal("authors"), Evaluation.authors,
        literal("version"), Evaluation.version,
        literal("created_at"), Evaluation.created_at,
        literal("updated_at"), Evaluation.updated_at,
        literal("answers"), answers_json())


def public_sheet_condition() -> ColumnElement[bool]:
    """Published, not in the trash, and its entry one the public sees."""
    entry = aliased(Entry, name="sheet_entry")
    return and_(*published_sheet_conditions(),
                exists().where(entry.id == Evaluation.entry_id,
                               public_entry_condition(entry)))


def sheet_change_json() -> ColumnElement[str]:
    upsert = func.json_build_object(
        literal("op"), literal("upsert"), literal("id"), cast(Evaluation.id, Text),
        literal("entry_id"), cast(Evaluation.entry_id, Text), literal("sheet"), sheet_json(),
        literal("aliases"), aliases_json("evaluation", Evaluation.id))
    delete = func.json_build_object(
        literal("op"), literal("delete"), literal("id"), cast(Evaluation.id, Text),
        literal("entry_id"), cast(Evaluation.entry_id, Text),
        literal("deleted_at"), func.coalesce(Evaluation.deleted_at, Evaluation.updated_at))
    return cast(case((public_sheet_condition(), upsert), else_=delete), Text)


def in_feed() -> ColumnElement[bool]:
    """The sheets the feed names at all: those published at least once."""
    return Evaluation.ever_published.is_(True)


def sheet_record(sheet: Evaluation) -> dict:
    """One sheet's public record, from the ORM (the same keys as `sheet_json`)."""
    return {
        "id": str(sheet.id), "entry_id": str(sheet.entry_id), "title": sheet.title,
        "held_on": sheet.held_on.isoformat(), "authors": sheet.authors,
        "version": sheet.version, "created_at": sheet.created_at.isoformat(),
        "updated_at": sheet.updated_at.isoformat(),
        "answers": [{"key": a.key_slug, **{name: getattr(a, name) for name in ANSWER_FIELDS}}
                    for a in sheet.answers]}
