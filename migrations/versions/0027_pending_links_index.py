"""A pull finds the sources whose links wait for their targets through a partial index,
and who holds each field (entry_field_sources) loses its index on the origin.

- `ix_sources_pending` (sources.origin, only the rows whose attributes hold `pending`):
  a pull looks for them before its first page and after its last, twice each time
  (app/sync/pull_batch.py `resolve_pending`, app/sync/pull.py `_resolve_pending`).
  Without it each look-up read and decompressed the attributes of every source of the
  origin (5,060 sources: 12 ms warm, 60 ms right after a first pull wrote them; about
  0.25 s a look-up for a mirror of 100,000 entries), four times a pull, even one that
  finds nothing new. The index holds only the few sources still waiting.
- the tag facets' trigger on entry_tags (0023) plans without hash and merge joins: a
  statement giving 2,000 tags (a page of a first mirror) joined its transition table to
  entries by reading every entry (100,060 entries: 203 + 100 ms for its two
  statements, growing with the base on every page); through the primary key, 53 + 25 ms.
- `ix_entry_field_sources_origin`: no query reads holders by origin alone (by entry,
  then origin: the primary key); it was a third of the cost of writing the fourteen
  holder rows of each new entry (about 70 of 230 ms of PostgreSQL CPU per 5,060 new
  entries, measured on a pulled base).

Revision ID: 0027
Revises: 0026
"""

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


# Plans only: the same rows, found through the primary key of entries. Not
# enable_seqscan = off: its IN (SELECT … FROM new_rows) … FOR SHARE then walked the whole
# primary key of entries for each statement (49 s at 100,000 entries).
TAG_FACETS = "public.atlas_tag_facets_of_entry_tags()"


def upgrade() -> None:
    op.execute("CREATE INDEX ix_sources_pending ON sources (origin) "
               "WHERE attributes ? 'pending'")
    op.drop_index("ix_entry_field_sources_origin", table_name="entry_field_sources")
    op.execute(f"ALTER FUNCTION {TAG_FACETS} SET enable_hashjoin = off "
               "SET enable_mergejoin = off")


def downgrade() -> None:
    op.execute(f"ALTER FUNCTION {TAG_FACETS} RESET ALL")
    op.create_index("ix_entry_field_sources_origin", "entry_field_sources", ["origin"])
    op.drop_index("ix_sources_pending", table_name="sources")
