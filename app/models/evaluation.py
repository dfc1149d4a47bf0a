"""Evaluation sheets of a commons on the assembly's keys (governance, financing…)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
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
    # What each level means, by language: {"fr": [five strings, level 0 to 4], "en": [...]}.
    level_definitions: Mapped[dict] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb"))

    def label(self, locale: str) -> str:
        return self.label_en if locale.startswith("en") else self.label_fr

    def question(self, locale: str) -> str:
        return self.question_en if locale.startswith("en") else self.question_fr

    def level_definition(self, locale: str, level: int) -> str:
        """What `level` means on this key, in `locale` (else French, else nothing)."""
        definitions = self.level_definitions or {}
        for language in ("en" if locale.startswith("en") else "fr", "fr"):
            texts = definitions.get(language) or []
            if 0 <= level < len(texts) and texts[level]:
                return str(texts[level])
        return ""


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

    entry: Mapped[Entry] = relationship()
    answers: Mapped[list[Answer]] = relationship(
        back_populates="evaluation", cascade="all, delete-orphan",
        order_by="Answer.position", lazy="selectin")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint(sql_in("state", EVALUATION_STATES), name="state"),
        CheckConstraint("length(btrim(title)) > 0", name="title_not_blank"),
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
