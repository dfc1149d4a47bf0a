"""Revisions: the full snapshot of every write, with who, when and why."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select

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


# Keys and tags have no UUID of their own: their revisions are filed under a name-based
# one (uuid5), stable for as long as the key's slug or the tag's id.
VOCABULARY_NAMESPACE = uuid.UUID("5b0f3a1e-7c55-4a8e-9a57-1f0d2c6b9e41")


def vocabulary_id(entity_type: str, ref: object) -> uuid.UUID:
    """The revisions' id of an evaluation key (by slug) or a tag (by id)."""
    return uuid.uuid5(VOCABULARY_NAMESPACE, f"{entity_type}:{ref}")


def next_version(entity_type: str, entity_id: uuid.UUID) -> int:
    """The version a new revision of something without a version column takes (the
    caller holds the row's lock, so two writers cannot take the same one)."""
    latest = db.session.scalar(select(func.max(Revision.version)).where(
        Revision.entity_type == entity_type, Revision.entity_id == entity_id))
    return (latest or 0) + 1


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


# -- notes: the comments the program writes itself ---------------------------------------------
# Stored in English, as every revision comment; pages show them in the reader's language
# (app/editor/labels.py, NOTE_LABELS) by reading them back with `read_note`. A note may end
# with ": <the person's own words>" (`reason`), shown as typed.
NOTES = {
    "proposed": "Proposed",
    "proposal_accepted": "Proposal {id} by {author} accepted",
    "proposal_rejected": "Proposal {id} rejected",
    "withdrawn": "Withdrawn",
    "revert": "Revert to version {version}",
    "reordered": "Reordered",
    "tag_merged": "Tag {source} merged into {target}",
}
_NOTE_PATTERNS = {
    code: re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.+?)", re.escape(template))
                     + r"(?:: (?P<reason>.*))?$", re.S)
    for code, template in NOTES.items()}


def note(code: str, reason: str | None = None, **params: Any) -> str:
    """The English text of a note, with the person's `reason` after a colon."""
    text = NOTES[code].format(**params)
    return f"{text}: {reason}" if reason else text


def read_note(comment: str | None) -> tuple[str, dict[str, str]] | None:
    """(code, params) of a note written by `note`, or None for a person's own comment."""
    if not comment:
        return None
    for code, pattern in _NOTE_PATTERNS.items():
        found = pattern.match(comment)
        if found:
            return code, {k: v for k, v in found.groupdict().items() if v is not None}
    return None
