"""Entries: the commons, third places and initiatives themselves."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    CheckConstraint,
    Column,
    Computed,
    DateTime,
    FetchedValue,
    ForeignKey,
    Index,
    Table,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR, UUID
from sqlalchemy.dialects.postgresql.base import ischema_names
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import UserDefinedType

from .. import entry_fields
from ..extensions import db
from .vocab import sql_in

if TYPE_CHECKING:
    from .relation import Relation
    from .source import Source
    from .tag import Tag

# The French full-text vector. `atlas_fr` is a text search configuration that
# unaccents before stemming (created by the first migration), so that
# "epicerie" matches "Épicerie". Weighted: name A, summary B, city C, description D.
SEARCH_VECTOR_SQL = (
    "setweight(to_tsvector('public.atlas_fr'::regconfig, coalesce(name, '')), 'A') || "
    "setweight(to_tsvector('public.atlas_fr'::regconfig, coalesce(summary, '')), 'B') || "
    "setweight(to_tsvector('public.atlas_fr'::regconfig, coalesce(city, '')), 'C') || "
    "setweight(to_tsvector('public.atlas_fr'::regconfig, coalesce(description, '')), 'D')"
)



class XID8(UserDefinedType):
    """PostgreSQL's 64-bit transaction id (xid8), read as a Python int."""

    cache_ok = True

    def get_col_spec(self, **_: object) -> str:
        return "xid8"

    def bind_processor(self, dialect):
        return lambda value: None if value is None else str(value)

    def result_processor(self, dialect, coltype):
        return lambda value: None if value is None else int(value)

    @property
    def python_type(self) -> type:
        return int


# So that reflection (Alembic's comparison) knows the type.
ischema_names["xid8"] = XID8

entry_tags = Table(
    "entry_tags",
    db.metadata,
    Column("entry_id", UUID(as_uuid=True), ForeignKey("entries.id", ondelete="CASCADE"),
           primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)


def _registry_columns() -> type:
    """A declarative mixin with one column per field of the registry (app/entry_fields.py)."""
    columns = {
        f.name: mapped_column(f.sql_type(), nullable=f.nullable, unique=f.unique or None,
                              default=f.default, server_default=f.default)
        for f in entry_fields.FIELDS}
    return type("EntryFieldColumns", (), columns)


class Entry(_registry_columns(), db.Model):
    __tablename__ = "entries"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, default=uuid.uuid4,
        server_default=text("gen_random_uuid()"))
    # The registry's fields (app/entry_fields.py) are the columns of EntryFieldColumns;
    # their types are repeated here for type checkers only (nothing reads this at run time).
    if TYPE_CHECKING:
        slug: Mapped[str]
        kind: Mapped[str]
        name: Mapped[str]
        summary: Mapped[str | None]
        description: Mapped[str | None]
        street: Mapped[str | None]
        postcode: Mapped[str | None]
        city: Mapped[str | None]
        country: Mapped[str | None]
        website: Mapped[str | None]
        email: Mapped[str | None]
        phone: Mapped[str | None]
        opening_hours: Mapped[str | None]
        licence: Mapped[str | None]
        status: Mapped[str]
        founded: Mapped[int | None]
        moderation: Mapped[str]
    geom: Mapped[WKBElement | None] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=False), nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now())
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The transaction that last wrote the row, set by the trigger of migration 0002;
    # the change feed orders by (change_xid, id). Never written by the ORM.
    change_xid: Mapped[int] = mapped_column(
        XID8(), server_default=FetchedValue(), server_onupdate=FetchedValue(),
        deferred=True)
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR, Computed(SEARCH_VECTOR_SQL, persisted=True), deferred=True)

    tags: Mapped[list[Tag]] = relationship(
        secondary=entry_tags, order_by="Tag.slug", lazy="selectin")
    relations_out: Mapped[list[Relation]] = relationship(
        foreign_keys="Relation.source_id", back_populates="source",
        cascade="all, delete-orphan", order_by="Relation.id")
    relations_in: Mapped[list[Relation]] = relationship(
        foreign_keys="Relation.target_id", back_populates="target",
        cascade="all, delete-orphan", order_by="Relation.id", overlaps="relations_out")
    sources: Mapped[list[Source]] = relationship(
        back_populates="entry", cascade="all, delete-orphan", order_by="Source.id")

    # Optimistic locking: every UPDATE says "WHERE version = <the version I read>",
    # so a concurrent writer that got there first makes ours fail instead of
    # silently overwriting it.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    __table_args__ = (
        # A field with a vocabulary (kind, status, moderation) holds one of its values.
        *(CheckConstraint(sql_in(f.name, f.choices), name=f.name)
          for f in entry_fields.FIELDS if f.choices),
        CheckConstraint(
            "geom IS NULL OR (ST_X(geom) BETWEEN -180 AND 180 AND ST_Y(geom) BETWEEN -90 AND 90)",
            name="lonlat_range"),
        CheckConstraint("slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name="slug_format"),
        CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),
        CheckConstraint("founded IS NULL OR founded BETWEEN 1000 AND 2100", name="founded"),
        CheckConstraint("version >= 1", name="version"),
        Index("ix_entries_geom", "geom", postgresql_using="gist"),
        Index("ix_entries_geog", text("(geom::geography)"), postgresql_using="gist"),
        Index("ix_entries_search_vector", "search_vector", postgresql_using="gin"),
        Index("ix_entries_updated_at", "updated_at"),
        Index("ix_entries_kind", "kind"),
        Index("ix_entries_change", "change_xid", "id"),
        # The twin rule's "same SIRET" (app/services/twin_rule.py).
        Index("ix_entries_siret", "siret", postgresql_where=text("siret IS NOT NULL")),
    )

    @property
    def lonlat(self) -> tuple[float, float] | None:
        """(longitude, latitude) of the point, or None for an entry without a place."""
        if self.geom is None:
            return None
        from geoalchemy2.shape import to_shape

        point = to_shape(self.geom)
        return (point.x, point.y)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def __repr__(self) -> str:
        return f"<Entry {self.slug} v{self.version}>"


# The key under which importers compare websites: no scheme, no www., no trailing slash.
WEBSITE_KEY_PATTERN = r"^https?://(www\.)?|/+$"
website_key = func.regexp_replace(func.lower(Entry.website), WEBSITE_KEY_PATTERN, "", "g")
Index("ix_entries_website_key", website_key, postgresql_where=Entry.website.isnot(None))
Index("ix_entries_slug_pattern", Entry.slug, postgresql_ops={"slug": "text_pattern_ops"})

# Trigram index for typo-tolerant name search ("mutualabb" finds Mutualab).
Index("ix_entries_name_trgm", func.atlas_unaccent(func.lower(Entry.name)).label("name_unaccent"),
      postgresql_using="gin", postgresql_ops={"name_unaccent": "gin_trgm_ops"})

# The order of the directory and of the map's no-script list (migration 0021): the first
# page reads the index instead of sorting every entry.
Index("ix_entries_name_sort", func.atlas_unaccent(func.lower(Entry.name)).label("name_sort"),
      Entry.id)
