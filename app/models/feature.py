"""Each entry's GeoJSON Feature, kept as JSON text so that pages and feeds only read it.

Written by PostgreSQL itself (the triggers of migration 0007 call
`atlas_refresh_features`, whose body is `app.formats.geojson.computed_feature_json`),
never by the ORM. Readers go through `app.formats.geojson.feature_json`, which falls
back to computing a feature that is not stored.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Table, Text
from sqlalchemy.dialects.postgresql import UUID

from ..extensions import db

entry_features = Table(
    "entry_features",
    db.metadata,
    Column("entry_id", UUID(as_uuid=True), ForeignKey("entries.id", ondelete="CASCADE"),
           primary_key=True),
    Column("feature", Text, nullable=False),
)
