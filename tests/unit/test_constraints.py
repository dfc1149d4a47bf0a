"""The database itself refuses bad rows, whatever code writes them."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

INSERT_ENTRY = text("""
    INSERT INTO entries (slug, kind, name, geom)
    VALUES (:slug, :kind, :name, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
""")


def insert_entry(session, **values):
    row = {"slug": "bad-row", "kind": "third_place", "name": "Bad", "lon": 3.06, "lat": 50.63}
    row.update(values)
    with session.begin_nested():
        session.execute(INSERT_ENTRY, row)


def constraint_of(excinfo) -> str:
    return excinfo.value.orig.diag.constraint_name


def test_a_valid_row_is_accepted(session):
    insert_entry(session)
    assert session.execute(text("SELECT kind FROM entries WHERE slug = 'bad-row'")).scalar() \
        == "third_place"


@pytest.mark.parametrize(("values", "constraint"), [
    ({"kind": "foo"}, "ck_entries_kind"),
    ({"lat": 91}, "ck_entries_lonlat_range"),
    ({"lon": -181}, "ck_entries_lonlat_range"),
    ({"slug": "Not A Slug"}, "ck_entries_slug_format"),
    ({"name": "   "}, "ck_entries_name_not_blank"),
    ({"slug": "mutualab"}, "uq_entries_slug"),
])
def test_bad_entries_are_refused(session, values, constraint):
    with pytest.raises(IntegrityError) as excinfo:
        insert_entry(session, **values)
    assert constraint_of(excinfo) == constraint


def test_level_outside_0_to_4_is_refused(session):
    evaluation_id = session.execute(text("SELECT id FROM evaluations LIMIT 1")).scalar()
    with pytest.raises(IntegrityError) as excinfo, session.begin_nested():
        session.execute(text("UPDATE answers SET level = 7 WHERE evaluation_id = :id"),
                        {"id": evaluation_id})
    assert constraint_of(excinfo) == "ck_answers_level"


def test_status_relation_and_source_constraints(session):
    ids = session.execute(text("SELECT id FROM entries ORDER BY slug LIMIT 2")).scalars().all()
    with pytest.raises(IntegrityError) as excinfo, session.begin_nested():
        session.execute(text("UPDATE entries SET status = 'gone' WHERE id = :id"), {"id": ids[0]})
    assert constraint_of(excinfo) == "ck_entries_status"
    with pytest.raises(IntegrityError) as excinfo, session.begin_nested():
        session.execute(text("INSERT INTO relations (source_id, target_id, type) "
                             "VALUES (:a, :a, 'uses')"), {"a": ids[0]})
    assert constraint_of(excinfo) == "ck_relations_not_self"
    with pytest.raises(IntegrityError) as excinfo, session.begin_nested():
        session.execute(text("INSERT INTO relations (source_id, target_id, type) "
                             "VALUES (:a, :b, 'likes')"), {"a": ids[0], "b": ids[1]})
    assert constraint_of(excinfo) == "ck_relations_type"
    with pytest.raises(IntegrityError) as excinfo, session.begin_nested():
        session.execute(text(
            "INSERT INTO sources (entry_id, origin, external_id) "
            "SELECT :b, origin, external_id FROM sources WHERE entry_id = :a LIMIT 1"),
            {"a": ids[0], "b": ids[1]})
    assert constraint_of(excinfo) == "uq_sources_origin_external_id"
