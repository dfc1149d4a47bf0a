"""Counts kept by PostgreSQL: public entries per map cell and kind (the map's count
pyramid, migration 0023), and the same per tag (the tag pyramid, migration 0029, whose
zoom 0 gives the tag facets).

Written only by PostgreSQL: the statement triggers on `entries` (and `entry_tags`)
append to the `*_changes` tables, `atlas_map_cells_compact()` and
`atlas_tag_cells_compact()` fold those in. Read by app/query/pyramid.py.

The filtered map's passes (migration 0025, UNLOGGED): the counts of one filter under one
data state, per chunk of 16 × 16 cells of each zoom; written and read by
app/query/filter_pass.py.
"""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
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

tag_cells = Table(
    "tag_cells",
    db.metadata,
    Column("z", SmallInteger, primary_key=True),  # pyramid.TAG_ZOOMS only
    Column("tag_id", Integer, primary_key=True),
    Column("gx", Integer, primary_key=True),
    Column("gy", Integer, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("n", Integer, nullable=False),
    Column("sx", BigInteger, nullable=False),
    Column("sy", BigInteger, nullable=False),
    Index("ix_tag_cells_empty", "z", postgresql_where="n = 0"),
)

tag_cell_changes = Table(
    "tag_cell_changes",
    db.metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("tag_id", Integer, nullable=False),
    Column("gx", Integer, nullable=False),  # at pyramid.BASE_ZOOM; -1: without a place
    Column("gy", Integer, nullable=False),
    Column("kind", Text, nullable=False),
    Column("n", Integer, nullable=False),
    Column("sx", BigInteger, nullable=False),
    Column("sy", BigInteger, nullable=False),
    Index("ix_tag_cell_changes_cell", "tag_id", "gx", "gy"),
)

map_filter_passes = Table(
    "map_filter_passes",
    db.metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("key", Text, nullable=False),  # hash of the data state and the filter
    Column("state", Text, nullable=False),  # the data state counted
    # The chunks count the public entries left out, taken away from the pyramid's.
    Column("complement", Boolean, nullable=False, server_default=false()),
    Column("made_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("key"),
    prefixes=["UNLOGGED"],
)

map_filter_chunks = Table(
    "map_filter_chunks",
    db.metadata,
    Column("pass_id", BigInteger, ForeignKey("map_filter_passes.id", ondelete="CASCADE"),
           primary_key=True),
    Column("z", SmallInteger, primary_key=True),
    Column("cx", Integer, primary_key=True),  # gx >> CHUNK_SHIFT; -1: without a place
    Column("cy", Integer, primary_key=True),
    # One element per cell and kind of the chunk (parallel arrays, unnested by readers).
    Column("gx", ARRAY(Integer), nullable=False),
    Column("gy", ARRAY(Integer), nullable=False),
    Column("kind", ARRAY(Text), nullable=False),
    Column("n", ARRAY(Integer), nullable=False),
    Column("sx", ARRAY(BigInteger), nullable=False),
    Column("sy", ARRAY(BigInteger), nullable=False),
    prefixes=["UNLOGGED"],
)

map_filter_tags = Table(
    "map_filter_tags",
    db.metadata,
    Column("pass_id", BigInteger, ForeignKey("map_filter_passes.id", ondelete="CASCADE"),
           primary_key=True),
    Column("tag_id", Integer, primary_key=True),
    Column("kind", Text, primary_key=True),
    Column("located", Boolean, primary_key=True),
    Column("n", Integer, nullable=False),
    prefixes=["UNLOGGED"],
)
