"""Revisions: the full snapshot of every write, with who, when and why."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select

from ..extensions import db
from ..models import Revision, User


@dataclass(frozen=True)
class Author:
    """Who writes: a user, or a program named by `label` ("demo", "import osm")."""

    user: User | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if self.user is None and not self.label:
            raise ValueError("An author is a user or a label")


def record_revision(entity_type: str, entity_id: uuid.UUID, version: int, action: str,
                    snapshot: dict[str, Any], author: Author,
                    comment: str | None = None) -> Revision:
    revision = Revision(
        entity_type=entity_type, entity_id=entity_id, version=version, action=action,
        author_id=author.user.id if author.user else None, author_label=author.label,
        comment=(comment or None) and comment[:500], snapshot=snapshot)
    db.session.add(revision)
    return revision


def revisions_of(entity_type: str, entity_id: uuid.UUID) -> list[Revision]:
    stmt = (select(Revision)
            .where(Revision.entity_type == entity_type, Revision.entity_id == entity_id)
            .order_by(Revision.version))
    return list(db.session.scalars(stmt))


def revision_at(entity_type: str, entity_id: uuid.UUID, version: int) -> Revision | None:
    return db.session.scalar(select(Revision).where(
        Revision.entity_type == entity_type, Revision.entity_id == entity_id,
        Revision.version == version))


def _entity_type(entity: Any) -> str:
    return "evaluation" if type(entity).__name__ == "Evaluation" else "entry"


def _written_by(author: Author) -> Any:
    if author.user is not None:
        return Revision.author_id == author.user.id
    return and_(Revision.author_id.is_(None), Revision.author_label == author.label)


def last_written_by(entity: Any, author: Author) -> dict[str, Any]:
    """The snapshot of the latest revision `author` wrote of an entry or a sheet ({} if
    none): what a source last wrote, for the three-way rule."""
    snapshot = db.session.scalar(
        select(Revision.snapshot)
        .where(Revision.entity_type == _entity_type(entity), Revision.entity_id == entity.id,
               _written_by(author))
        .order_by(Revision.version.desc()).limit(1))
    return snapshot or {}


def edited_since(entity: Any, author: Author) -> bool:
    """Whether someone other than `author` wrote the entry or sheet last."""
    latest = db.session.execute(
        select(Revision.author_id, Revision.author_label)
        .where(Revision.entity_type == _entity_type(entity), Revision.entity_id == entity.id)
        .order_by(Revision.version.desc()).limit(1)).first()
    if latest is None:
        return False
    if author.user is not None:
        return latest.author_id != author.user.id
    return latest.author_id is not None or latest.author_label != author.label
