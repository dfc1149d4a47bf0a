"""The public fields of an entry: one definition, two readers that agree."""

from sqlalchemy import select

from app.formats.public import PUBLIC_FIELDS, public_columns, public_record
from app.models import Entry
from tests import demo_data


def test_orm_and_sql_views_of_the_public_fields_agree(session):
    rows = session.execute(select(*public_columns()).order_by(Entry.slug)).mappings().all()
    entries = session.scalars(select(Entry).order_by(Entry.slug)).all()
    assert len(rows) == len(entries) == len(demo_data.entries())
    for row, entry in zip(rows, entries, strict=True):
        assert tuple(row.keys()) == PUBLIC_FIELDS
        from_sql = dict(row)
        for name in ("created_at", "updated_at"):
            from_sql[name] = from_sql[name].isoformat()
        from_sql["tags"] = list(from_sql["tags"])
        assert from_sql == public_record(entry)


def test_private_things_never_appear():
    assert not {"moderation", "deleted_at", "search_vector", "sources"} & set(PUBLIC_FIELDS)
