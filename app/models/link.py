"""Identity across instances: another instance's id for one of our entries or sheets.

An instance that loaded the demo before its ids were stable, or a remote entry found
to be the twin of a local one, keeps its own row; the other id is recorded here as an
alias. Lookups by id (the API, a pull, a push) resolve an alias to the local row, the
change feed publishes each entry's aliases, and a link can be undone (`flask sync
unlink`), which parts the two again.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Index, String, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .vocab import sql_in

LINKED_ENTITIES = ("entry", "evaluation")


class IdentityLink(db.Model):
    __tablename__ = "identity_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(20))
    # The other id (another instance's, or the demo's stable one) …
    alias_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    # … and the local row it stands for.
    entity_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    # Who made the link: remote:<name> (a pull or a push), demo (the stable demo id).
    origin: Mapped[str] = mapped_column(String(80))
    # Why: a code and its parameters (app/services/link_reasons.py).
    reason: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(sql_in("entity_type", LINKED_ENTITIES), name="entity_type"),
        UniqueConstraint("entity_type", "alias_id", name="uq_identity_links_alias"),
        Index("ix_identity_links_entity", "entity_type", "entity_id"),
    )
