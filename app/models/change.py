"""One row per statement that wrote a small table (tags, links, sheets, answers).

Appended by the statement-level triggers of migration 0010, never by the ORM, and
read only by the data state (app.query.state): the highest transaction id here,
with `entries.change_xid`, tells with an index look-up whether anything changed.
"""

from __future__ import annotations

from sqlalchemy import (
                        BigInteger,
                        Column,
                        DateTime,
                        FetchedValue,
                        Identity,
                        Index,
                        Table,
                        Text,
                        text,
)

from ..extensions import db
from .entry import XID8

data_changes = Table(
    "data_changes",
    db.metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("change_xid", XID8(), server_default=FetchedValue(), nullable=False),
    Column("table_name", Text, nullable=False),
    Column("changed_at", DateTime(timezone=True), server_default=text("clock_timestamp()"),
           nullable=False),
    Index("ix_data_changes_change_xid", "change_xid"),
)
