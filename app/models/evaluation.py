"""Evaluation sheets of a commons on the assembly's keys (governance, financing…)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    FetchedValue,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .entry import XID8
from .vocab import EVALUATION_STATES, LEVEL_MAX, LEVEL_MIN, sql_in

if TYPE_CHECKING:
    from .entry import Entry


class EvaluationKey(db.Model):
    """One key of the grid; seeded with the six, an assembly may add its own."""

    __tablename__ = "evaluation_keys"

    slug: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(SmallInteger)
    label_fr: Mapped[str] = mapped_column(String(80))
    label_en: Mapped[str] = mapped_column(String(80))
    question_fr: Mapped[str] = mapped_column(Text)
    question_en: Mapped[str] = mapped_column(Text)
    description_fr: Mapped[str | None] = mapped_column(Text)
    description_en: Mapped[str | None] = mapped_column(Text)
    # What each level 0–4 means: {"fr": [5 strings], "en": [5 strings]} (migration 0015).
    level_definitions: Mapped[dict[str, list[str]] | None] = mapped_column(JSONB)
    # A retired key stays on the sheets that answered it and is left out of new ones.
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def label(self, locale: str) -> str:
        return self.label_en if locale.startswith("en") else self.label_fr

    def question(self, locale: str) -> str:
        return self.question_en if locale.startswith("en") else self.question_fr

    def description(self, locale: str) -> str | None:
        return self.description_en if locale.startswith("en") else self.description_fr

    def level_definition(self, locale: str, level: int) -> str | None:
        texts = (self.level_definitions or {}).get("en" if locale.startswith("en") else "fr")
        return texts[level] if texts and level < len(texts) and texts[level] else None


class Evaluation(db.Model):
    __tablename__ = "evaluations"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, default=uuid.uuid4,
        server_default=text("gen_random_uuid()"))
    entry_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("entries.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    held_on: Mapped[date] = mapped_column(Date)
    authors: Mapped[str | None] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(20), default="draft", server_default="draft")
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The transaction that last wrote the row, and whether it was ever published: both
    # set by the trigger of migration 0017, never by the ORM. The sheets' change feed
    # orders by (change_xid, id) and never names a sheet that was only ever a draft.
    change_xid: Mapped[int] = mapped_column(
        XID8(), server_default=FetchedValue(), server_onupdate=FetchedValue(),
        deferred=True)
    ever_published: Mapped[bool] = mapped_column(
        Boolean, server_default=text("false"), server_onupdate=FetchedValue(),
        deferred=True)

    entry: Mapped[Entry] = relationship()
    answers: Mapped[list[Answer]] = relationship(
        back_populates="evaluation", cascade="all, delete-orphan",
        order_by="Answer.position", lazy="selectin")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(sql_in("state", EVALUATION_STATES), name="state"),
        CheckConstraint("length(btrim(title)) > 0", name="title_not_blank"),
        Index("ix_evaluations_change", "change_xid", "id"),
    )

    def answer(self, key: str) -> Answer | None:
        return next((a for a in self.answers if a.key_slug == key), None)


class Answer(db.Model):
    __tablename__ = "answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("evaluations.id", ondelete="CASCADE"))
    key_slug: Mapped[str] = mapped_column(
        String(40), ForeignKey("evaluation_keys.slug", onupdate="CASCADE"))
    # Copied from the key so that a sheet keeps the order it was written in.
    position: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    level: Mapped[int | None] = mapped_column(SmallInteger)
    strengths: Mapped[str | None] = mapped_column(Text)
    limits: Mapped[str | None] = mapped_column(Text)
    stakes: Mapped[str | None] = mapped_column(Text)

    evaluation: Mapped[Evaluation] = relationship(back_populates="answers")
    key: Mapped[EvaluationKey] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint(f"level IS NULL OR level BETWEEN {LEVEL_MIN} AND {LEVEL_MAX}",
                        name="level"),
        UniqueConstraint("evaluation_id", "key_slug", name="uq_answers_evaluation_key"),
    )
