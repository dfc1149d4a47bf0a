"""Counts kept by PostgreSQL (migration 0023): public entries per map cell and kind (the
map's count pyramid), and per tag, kind and place or not (the tag facets).

Written only by PostgreSQL: the statement triggers on `entries` (and `entry_tags`)
append to the `*_changes` tables, `atlas_map_cells_compact()` and
`atlas_tag_facets_compact()` fold those in. Read by app/query/pyramid.py.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Identity,
    Index,
    Integer,
    SmallInteger,
    Table,
    Text,
)

from ..extensions import db

map_cells = Table(
    "map_cells",
    db.metadata,
    Column("z", SmallInteger, primary_key=True),
    Column("gx", Integer, primary_key=True),
    Column("gy", Integer, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("n", Integer, nullable=False),
    Column("sx", BigInteger, nullable=False),  # Σ longitude in 1e-7 degrees
    Column("sy", BigInteger, nullable=False),  # Σ latitude in 1e-7 degrees
    Index("ix_map_cells_empty", "z", postgresql_where="n = 0"),
)

map_cell_changes = Table(
    "map_cell_changes",
    db.metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("gx", Integer, nullable=False),  # at pyramid.BASE_ZOOM; -1: without a place
    Column("gy", Integer, nullable=False),
    Column("kind", Text, nullable=False),
    Column("n", Integer, nullable=False),
    Column("sx", BigInteger, nullable=False),
    Column("sy", BigInteger, nullable=False),
    Index("ix_map_cell_changes_cell", "gx", "gy"),
)

tag_facets = Table(
    "tag_facets",
    db.metadata,
    Column("tag_id", Integer, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("located", Boolean, primary_key=True),
    Column("n", Integer, nullable=False),
)

tag_facet_changes = Table(
    "tag_facet_changes",
    db.metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("tag_id", Integer, nullable=False),
    Column("kind", Text, nullable=False),
    Column("located", Boolean, nullable=False),
    Column("n", Integer, nullable=False),
)
