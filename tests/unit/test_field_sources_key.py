"""Who holds each field (entry_field_sources) keeps its key to entries set-based (migration
0026): one check per statement instead of one per row (fourteen rows an entry), with the
foreign key's guarantees: no holder of an entry that is not there, none left behind by a
deleted entry, and an entry deleted meanwhile refuses its holders."""

from __future__ import annotations

import json
import threading
import uuid

import psycopg2
import psycopg2.errors
import pytest

from tests.conftest import raw_connection
from tests.support.api import fresh_app

NEW_ENTRY = ("INSERT INTO entries (id, slug, kind, name) VALUES (%s, %s, 'initiative', %s)")
HOLDERS = ("INSERT INTO entry_field_sources (entry_id, field, origin, value_hash) "
           "SELECT e, f, 'remote:test', md5(e::text || f) FROM unnest(%s::uuid[]) AS e, "
           "unnest(ARRAY['kind', 'name', 'summary', 'city']) AS f")


@pytest.fixture(scope="module")
def app(databases):
    return fresh_app(databases, "fieldsourceskey")


@pytest.fixture
def conn(app):
    connection = raw_connection(app)
    yield connection
    connection.rollback()
    connection.close()


def new_entries(cur, count: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    for key in ids:
        cur.execute(NEW_ENTRY, (key, f"cle-{key}", f"Clé {key[:8]}"))
    return ids


def test_holders_are_checked_once_per_statement_not_once_per_row(conn):
    with conn.cursor() as cur:
        ids = new_entries(cur, 30)
        cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + HOLDERS, (ids,))
        plan = cur.fetchone()[0]
        plan = plan if isinstance(plan, list) else json.loads(plan)
        triggers = {t["Trigger Name"]: t["Calls"] for t in plan[0]["Triggers"]}
        cur.execute("SELECT count(*) FROM entry_field_sources WHERE entry_id = ANY(%s::uuid[])",
                    (ids,))
        assert cur.fetchone()[0] == 120
    # No trigger per row (the foreign key's was called 120 times), and the key is checked.
    assert triggers and all(calls == 1 for calls in triggers.values()), triggers
    assert "entry_field_sources_key" in triggers


def test_a_holder_of_an_entry_that_is_not_there_is_refused(conn):
    with conn.cursor() as cur:
        ids = new_entries(cur, 2)
        with pytest.raises(psycopg2.errors.ForeignKeyViolation) as refused:
            cur.execute(HOLDERS, ([*ids, str(uuid.uuid4())],))
    assert "entry_field_sources" in str(refused.value)


def test_an_entry_deleted_takes_its_holders_with_it(conn):
    with conn.cursor() as cur:
        ids = new_entries(cur, 3)
        cur.execute(HOLDERS, (ids,))
        cur.execute("DELETE FROM entries WHERE id = ANY(%s::uuid[])", (ids[:2],))
        cur.execute("SELECT entry_id::text, count(*) FROM entry_field_sources "
                    "WHERE entry_id = ANY(%s::uuid[]) GROUP BY 1", (ids,))
        assert dict(cur.fetchall()) == {ids[2]: 4}


def test_a_user_deleted_leaves_the_fields_held_by_no_one_and_an_unknown_user_is_refused(conn):
    with conn.cursor() as cur:
        ids = new_entries(cur, 1)
        cur.execute("INSERT INTO users (email, role) VALUES (%s, 'editor') RETURNING id",
                    (f"{ids[0]}@example.org",))
        user = cur.fetchone()[0]
        cur.execute("INSERT INTO entry_field_sources (entry_id, field, user_id, value_hash) "
                    "VALUES (%s, 'name', %s, 'h')", (ids[0], user))
        cur.execute("DELETE FROM users WHERE id = %s", (user,))
        cur.execute("SELECT user_id FROM entry_field_sources WHERE entry_id = %s", (ids[0],))
        assert cur.fetchall() == [(None,)]
        with pytest.raises(psycopg2.errors.ForeignKeyViolation):
            cur.execute("INSERT INTO entry_field_sources (entry_id, field, user_id, value_hash) "
                        "VALUES (%s, 'city', %s, 'h')", (ids[0], user))


def test_holders_written_while_their_entry_is_deleted_elsewhere_are_refused(app, conn):
    """The deletion holds the entry; the holders wait for it, then find it gone."""
    with conn.cursor() as cur:
        ids = new_entries(cur, 1)
    conn.commit()
    deleter = raw_connection(app)
    outcome: list[BaseException | None] = []
    try:
        with deleter.cursor() as cur:
            cur.execute("DELETE FROM entries WHERE id = %s", (ids[0],))

        def write() -> None:
            try:
                with conn.cursor() as cur:
                    cur.execute(HOLDERS, (ids,))
                outcome.append(None)
            except psycopg2.Error as exc:
                outcome.append(exc)

        writer = threading.Thread(target=write)
        writer.start()
        with deleter.cursor() as cur:  # until the writer waits for the deleter's lock
            for _ in range(500):
                cur.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
                if cur.fetchone()[0]:
                    break
                threading.Event().wait(0.01)
        deleter.commit()
        writer.join(timeout=30)
    finally:
        deleter.close()
    assert len(outcome) == 1 and isinstance(outcome[0], psycopg2.errors.ForeignKeyViolation)
