"""The tables of the CSV export and of the data package: their columns, types and SQL.

`entries` is the CSV export itself (public fields of `app.formats.public`, lists
joined with ";", plus the entry's outgoing relations, the origins of its data and
the licence that applies to it). The other tables complete the data package:
the tag and evaluation-key vocabularies, relations, published evaluation sheets
and their answers, and the sources (origin, external id, licence; never their
raw attributes). Each table describes itself as a Frictionless Table Schema.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, Text, cast, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from .. import entry_fields
from ..formats.csv_cells import escape_cell
from ..formats.public import PUBLIC_FIELDS, public_columns, relations_expression
from ..models import Answer, Entry, Evaluation, EvaluationKey, Relation, Source, Tag
from ..models.vocab import LEVEL_MAX, LEVEL_MIN, RELATION_TYPES
from ..query.entries import conditions
from ..query.filters import EntryFilter
from ..query.sheets import published_sheet_conditions
from .meta import data_licence_expression

LIST_SEPARATOR = ";"


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "string"  # Table Schema type
    description: str = ""
    format: str | None = None
    constraints: dict[str, Any] | None = None

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.format:
            out["format"] = self.format
        if self.description:
            out["description"] = self.description
        if self.constraints:
            out["constraints"] = self.constraints
        return out


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    description: str
    columns: tuple[Column, ...]
    query: Callable[[EntryFilter, str], Select]  # (filter, our licence) -> rows in column order
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[dict[str, Any], ...] = field(default=())

    @property
    def path(self) -> str:
        return f"{self.name}.csv"

    @property
    def header(self) -> list[str]:
        return [c.name for c in self.columns]

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"fields": [c.schema() for c in self.columns],
                               "missingValues": [""]}
        if self.primary_key:
            out["primaryKey"] = list(self.primary_key)
        if self.foreign_keys:
            out["foreignKeys"] = list(self.foreign_keys)
        return out


def cell(value: Any) -> str:
    """One CSV cell: empty for null, ISO 8601 for times (UTC, Z), lists joined with ';';
    text that a spreadsheet would run as a formula is quoted (`escape_cell`)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return escape_cell(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return escape_cell(LIST_SEPARATOR.join(_item(v) for v in value))
    return str(value)


def _item(value: Any) -> str:
    if isinstance(value, dict):  # a relation: "uses:<uuid>"
        return f"{value['type']}:{value['target']}"
    return str(value)


def _in_export(column: Any, f: EntryFilter) -> Any:
    """`column` (an entry id) names an entry of the export."""
    return column.in_(select(Entry.id).where(*conditions(f)))


# -- entries ----------------------------------------------------------------------------------

def _text(name: str, description: str, **kw: Any) -> Column:
    return Column(name, "string", description, **kw)


ENTRY_COLUMNS: dict[str, Column] = {c.name: c for c in (
    Column("id", "string", "Stable id, the same in every database that holds the entry.",
           format="uuid", constraints={"required": True, "unique": True}),
    *(Column(f.name, f.table_type(), f.description, constraints=f.table_constraints())
      for f in entry_fields.FIELDS if f.public),
    Column("lon", "number", "WGS 84 longitude; empty for an entry without a place.",
           constraints={"minimum": -180, "maximum": 180}),
    Column("lat", "number", "WGS 84 latitude.", constraints={"minimum": -90, "maximum": 90}),
    _text("tags", "Tag slugs (see tags.csv), sorted, joined with ';'."),
    Column("created_at", "datetime", "When the entry was created (UTC)."),
    Column("updated_at", "datetime", "When the entry last changed (UTC)."),
    Column("version", "integer", "Bumped by every write.", constraints={"minimum": 1}),
)}
if tuple(ENTRY_COLUMNS) != PUBLIC_FIELDS:  # pragma: no cover - caught at import
    raise RuntimeError("export columns must follow PUBLIC_FIELDS")

EXTRA_ENTRY_COLUMNS = (
    _text("relations", "Outgoing links to other entries, '<type>:<uuid>' joined with ';' "
                       "(relations.csv holds the same, one per row)."),
    _text("sources", "Where the entry's data comes from (origins, see sources.csv), "
                     "joined with ';'."),
    _text("data_licence", "The licence of this row's data: ODbL-1.0 when one of its "
                          "sources is under the ODbL (OpenStreetMap), else the publisher's."),
)


def origins_expression() -> Any:
    aggregated = func.array_agg(aggregate_order_by(Source.origin.distinct(), Source.origin))
    return (select(aggregated).where(Source.entry_id == Entry.id)
            .correlate(Entry).scalar_subquery())


def entries_query(f: EntryFilter, licence: str) -> Select:
    return (select(*public_columns(), relations_expression().label("relations"),
                   origins_expression().label("sources"), data_licence_expression(licence))
            .where(*conditions(f)).order_by(Entry.id))


ENTRIES = Table(
    "entries", "Entries",
    "Commons, third places and citizen initiatives: one row per entry.",
    (*ENTRY_COLUMNS.values(), *EXTRA_ENTRY_COLUMNS),
    entries_query, primary_key=("id",))


# -- the other tables of the data package -------------------------------------------------------

TAGS = Table(
    "tags", "Tags", "Activities, themes and audiences that entries are tagged with.",
    (_text("slug", "Tag slug.", constraints={"required": True, "unique": True}),
     _text("label_fr", "French label.", constraints={"required": True}),
     _text("label_en", "English label.", constraints={"required": True}),
     _text("group", "activity, theme or audience.", constraints={"required": True})),
    lambda f, licence: select(Tag.slug, Tag.label_fr, Tag.label_en, Tag.group)
    .order_by(Tag.slug),
    primary_key=("slug",))


def relations_query(f: EntryFilter, licence: str) -> Select:
    return (select(cast(Relation.source_id, Text), Relation.type,
                   cast(Relation.target_id, Text))
            .where(_in_export(Relation.source_id, f), _in_export(Relation.target_id, f))
            .order_by(Relation.source_id, Relation.type, Relation.target_id))


RELATIONS = Table(
    "relations", "Relations",
    "Typed, directed links between entries: the source entry hosted_by, part_of, uses, "
    "partner_of or inspired_by the target entry.",
    (Column("source_id", "string", "The entry the link starts from.", format="uuid",
            constraints={"required": True}),
     _text("type", "Type of link.", constraints={"required": True,
                                                 "enum": list(RELATION_TYPES)}),
     Column("target_id", "string", "The entry it points to.", format="uuid",
            constraints={"required": True})),
    relations_query, primary_key=("source_id", "type", "target_id"),
    foreign_keys=(
        {"fields": "source_id", "reference": {"resource": "entries", "fields": "id"}},
        {"fields": "target_id", "reference": {"resource": "entries", "fields": "id"}},
    ))

EVALUATION_KEYS = Table(
    "evaluation-keys", "Evaluation keys", "The keys of the evaluation grid, in order.",
    (_text("slug", "Key.", constraints={"required": True, "unique": True}),
     Column("position", "integer", "Order in the grid.", constraints={"required": True}),
     _text("label_fr", "French label."), _text("label_en", "English label."),
     _text("question_fr", "Guiding question, French."),
     _text("question_en", "Guiding question, English."),
     Column("level_definitions", "object",
            'What levels 0 to 4 mean, as JSON: {"fr": [5 texts], "en": [5 texts]}.')),
    lambda f, licence: select(EvaluationKey.slug, EvaluationKey.position,
                              EvaluationKey.label_fr, EvaluationKey.label_en,
                              EvaluationKey.question_fr, EvaluationKey.question_en,
                              cast(EvaluationKey.level_definitions, Text)
                              .label("level_definitions"))
    .order_by(EvaluationKey.position, EvaluationKey.slug),
    primary_key=("slug",))


def published_sheets(f: EntryFilter) -> list[Any]:
    return [*published_sheet_conditions(), _in_export(Evaluation.entry_id, f)]


EVALUATIONS = Table(
    "evaluations", "Evaluation sheets",
    "Published evaluation sheets of entries, one row per sheet (its answers are in "
    "answers.csv).",
    (Column("id", "string", "Sheet id.", format="uuid",
            constraints={"required": True, "unique": True}),
     Column("entry_id", "string", "The entry evaluated.", format="uuid",
            constraints={"required": True}),
     _text("title", "Title.", constraints={"required": True}),
     Column("held_on", "date", "Date of the evaluation.", constraints={"required": True}),
     _text("authors", "Who wrote the sheet, as published with it."),
     Column("created_at", "datetime", "Created (UTC)."),
     Column("updated_at", "datetime", "Last changed (UTC)."),
     Column("version", "integer", "Bumped by every write.")),
    lambda f, licence: select(
        cast(Evaluation.id, Text), cast(Evaluation.entry_id, Text), Evaluation.title,
        Evaluation.held_on, Evaluation.authors, Evaluation.created_at, Evaluation.updated_at,
        Evaluation.version)
    .where(*published_sheets(f)).order_by(Evaluation.id),
    primary_key=("id",),
    foreign_keys=({"fields": "entry_id", "reference": {"resource": "entries", "fields": "id"}},))

ANSWERS = Table(
    "answers", "Answers", "One answer per key of each published sheet.",
    (Column("evaluation_id", "string", "The sheet.", format="uuid",
            constraints={"required": True}),
     _text("key", "The evaluation key.", constraints={"required": True}),
     Column("level", "integer", "Maturity level, empty when not given.",
            constraints={"minimum": LEVEL_MIN, "maximum": LEVEL_MAX}),
     _text("strengths", "What works (Markdown)."),
     _text("limits", "Its limits (Markdown)."),
     _text("stakes", "The stakes that follow (Markdown).")),
    lambda f, licence: select(
        cast(Answer.evaluation_id, Text), Answer.key_slug, Answer.level, Answer.strengths,
        Answer.limits, Answer.stakes)
    .join(Evaluation, Evaluation.id == Answer.evaluation_id)
    .where(*published_sheets(f)).order_by(Answer.evaluation_id, Answer.position,
                                          Answer.key_slug),
    primary_key=("evaluation_id", "key"),
    foreign_keys=(
        {"fields": "evaluation_id", "reference": {"resource": "evaluations", "fields": "id"}},
        {"fields": "key", "reference": {"resource": "evaluation-keys", "fields": "slug"}},
    ))

SOURCES = Table(
    "sources", "Sources",
    "Where each entry's data comes from: origin (osm, csv:<name>, remote:<instance>, …), "
    "the record's id there, and the licence of that source.",
    (Column("entry_id", "string", "The entry.", format="uuid", constraints={"required": True}),
     _text("origin", "Origin.", constraints={"required": True}),
     _text("external_id", "The record's id at its origin (node/123, a row key, a UUID).",
           constraints={"required": True}),
     _text("licence", "Licence of that source.")),
    lambda f, licence: select(cast(Source.entry_id, Text), Source.origin, Source.external_id,
                              Source.licence)
    .where(_in_export(Source.entry_id, f)).order_by(Source.origin, Source.external_id),
    primary_key=("origin", "external_id"),
    foreign_keys=({"fields": "entry_id", "reference": {"resource": "entries", "fields": "id"}},))

PACKAGE_TABLES = (ENTRIES, TAGS, RELATIONS, EVALUATION_KEYS, EVALUATIONS, ANSWERS, SOURCES)
