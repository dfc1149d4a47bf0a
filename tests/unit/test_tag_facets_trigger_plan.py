"""The tag facets' trigger on entry_tags (migration 0023; the tag pyramid's since 0029,
which keeps the facets at its zoom 0) counts the tags a statement
gives by looking up their entries through the primary key, not by reading every entry: a
first mirror gives 2,000 tags a page, and a hash join read the whole table each time
(100,060 entries: 203 + 100 ms a page for its two statements, 53 + 25 ms through the
key; migration 0027). On a test's few entries the planner reads the table whatever it
is allowed, so what is checked is what the function plans with, and that it still
counts every tag given."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import raw_connection
from tests.support.api import fresh_app


@pytest.fixture(scope="module")
def app(databases):
    return fresh_app(databases, "tagfacetsplan")


def test_the_tag_facets_trigger_plans_by_key_and_counts_every_tag_given(app):
    conn = raw_connection(app)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT proconfig FROM pg_proc "
                        "WHERE proname = 'atlas_tag_cells_of_entry_tags'")
            assert set(cur.fetchone()[0] or ()) == {"enable_hashjoin=off",
                                                    "enable_mergejoin=off"}
            cur.execute("SELECT id FROM tags ORDER BY id LIMIT 2")
            tags = [row[0] for row in cur.fetchall()]
            ids = [str(uuid.uuid4()) for _ in range(30)]
            cur.execute(
                "INSERT INTO entries (id, slug, kind, name, moderation) "
                "SELECT i, 'plan-' || i, 'initiative', 'Lieu ' || i, 'published' "
                "FROM unnest(%s::uuid[]) AS i", (ids,))
            cur.execute("SELECT coalesce(sum(n), 0) FROM tag_cell_changes "
                        "WHERE tag_id = ANY(%s)", (tags,))
            counted = cur.fetchone()[0]
            cur.execute("INSERT INTO entry_tags (entry_id, tag_id) "
                        "SELECT e, t FROM unnest(%s::uuid[]) AS e, unnest(%s::int[]) AS t",
                        (ids, tags))
            cur.execute("SELECT sum(n) FROM tag_cell_changes WHERE tag_id = ANY(%s)",
                        (tags,))
            assert cur.fetchone()[0] - counted == 60  # every tag given is counted
    finally:
        conn.rollback()
        conn.close()
