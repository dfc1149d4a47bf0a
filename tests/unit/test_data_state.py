"""The data state behind every ETag: it moves on every visible change and costs index look-ups."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from app.query.state import STATE_SQL, data_state
from tests.conftest import raw_connection
from tests.support.api import fresh_app


@pytest.fixture(scope="module")
def app(databases):
    return fresh_app(databases, "datastate")


def token(app) -> str:
    with app.app_context():
        return data_state().token


@pytest.mark.parametrize("statement", [
    "UPDATE evaluations SET state = CASE state WHEN 'published' THEN 'draft' ELSE 'published' END"
    " WHERE id = (SELECT id FROM evaluations ORDER BY id LIMIT 1)",
    "UPDATE answers SET strengths = coalesce(strengths, '') || ' (revu)'"
    " WHERE id = (SELECT min(id) FROM answers)",
    "DELETE FROM answers WHERE id = (SELECT max(id) FROM answers)",
    "UPDATE tags SET slug = slug || '-renomme' WHERE id = (SELECT min(id) FROM tags)",
    "DELETE FROM entry_tags WHERE (entry_id, tag_id) = (SELECT entry_id, tag_id FROM entry_tags"
    " ORDER BY entry_id, tag_id LIMIT 1)",
    "UPDATE evaluation_keys SET label_fr = label_fr || ' !' WHERE slug = 'legal'",
], ids=["sheet-published", "answer-changed", "answer-deleted", "tag-renamed",
        "entry-untagged", "key-relabelled"])
def test_the_state_moves_on_every_visible_change(app, sql, statement):
    before = token(app)
    assert token(app) == before  # nothing changed: the same state
    sql(statement)
    assert token(app) != before


def test_a_late_commit_moves_the_state(app):
    """A takes its id first, B later; B commits, a reader looks, then A commits."""
    early, late = raw_connection(app), raw_connection(app)
    try:
        with early.cursor() as cur:
            cur.execute("UPDATE answers SET limits = 'tôt'"
                        " WHERE id = (SELECT min(id) FROM answers)")
        with late.cursor() as cur:
            cur.execute("UPDATE answers SET limits = 'tard'"
                        " WHERE id = (SELECT max(id) FROM answers)")
        late.commit()
        seen = token(app)
        assert token(app) == seen
        early.commit()
        assert token(app) != seen
    finally:
        early.close()
        late.close()


def test_last_modified_follows_a_sheet_saved_after_the_last_entry(app, sql):
    with app.app_context():
        before = data_state().last_modified
    sql("UPDATE answers SET stakes = 'enjeu' WHERE id = (SELECT min(id) FROM answers)")
    with app.app_context():
        after = data_state().last_modified
    assert before is not None and after is not None and after > before


def buffers(app) -> int:
    """Shared buffers the state query touches (hit or read), from PostgreSQL's own count."""
    from app.extensions import db

    with app.app_context():
        plan = db.session.execute(
            text("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + STATE_SQL.text)).scalar()
    top = (plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]
    return top["Shared Hit Blocks"] + top["Shared Read Blocks"]


def test_the_state_reads_no_more_with_20000_sheets(databases):
    app = fresh_app(databases, "datastatebig")
    token(app), buffers(app)  # warm the catalogue caches
    without = buffers(app)
    conn = raw_connection(app)
    try:
        with conn.cursor() as cur:
            # 20,000 sheets of six answers each, spread over the demo entries.
            cur.execute("""
                INSERT INTO evaluations (id, entry_id, title, held_on, state)
                SELECT gen_random_uuid(), e.id, 'Séance ' || n, DATE '2026-01-01' + (n % 300),
                       CASE WHEN n % 2 = 0 THEN 'published' ELSE 'draft' END
                FROM generate_series(1, 20000) AS n
                JOIN LATERAL (SELECT id FROM entries ORDER BY id
                              OFFSET n % (SELECT count(*) FROM entries) LIMIT 1) AS e ON true""")
            cur.execute("""
                INSERT INTO answers (evaluation_id, key_slug, position, level, strengths)
                SELECT ev.id, k.slug, k.position, 2, 'Des forces'
                FROM evaluations AS ev CROSS JOIN evaluation_keys AS k
                WHERE ev.title LIKE 'Séance %'""")
            cur.execute("SELECT count(*) FROM answers")
            assert cur.fetchone()[0] >= 120_000
            cur.execute("ANALYZE")
        conn.commit()
    finally:
        conn.close()
    token(app), buffers(app)
    with_sheets = buffers(app)
    assert with_sheets <= without + 2, (without, with_sheets)
