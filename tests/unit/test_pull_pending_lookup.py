"""A pull looks for the sources whose links wait for their targets before its first page
and after its last: through a partial index of those few (migration 0027), not by
reading and decompressing the attributes of every source of the origin (about 1 s a
look-up for a mirror of 100,000 entries, on every pull)."""

from __future__ import annotations

import uuid

from sqlalchemy import event, text

from app.models import Entry, Source
from app.sync.client import Remote
from app.sync.pull import Puller

ORIGIN = "remote:pendinglookup"


def _source(entry: Entry, origin: str, *, pending: bool) -> Source:
    attributes = {"remote": {"relations": [{"type": "part_of", "target": str(uuid.uuid4())}]},
                  "applied": {}, "local_version": entry.version + 7}  # edited here since
    if pending:
        attributes["pending"] = attributes["remote"]["relations"]
    return Source(entry=entry, origin=origin, external_id=str(entry.id), attributes=attributes)


def test_the_look_ups_of_waiting_links_read_only_the_waiting_sources(session):
    waiting = set()
    for index in range(12):
        entry = Entry(kind="initiative", name=f"Lieu en attente {index}",
                      slug=f"lieu-en-attente-{index}")
        session.add(entry)
        session.flush()
        source = _source(entry, ORIGIN if index != 11 else "remote:other", pending=index % 4 == 0)
        session.add(source)
        session.flush()
        if index % 4 == 0 and index != 11:
            waiting.add(source.id)
    assert len(waiting) == 3

    seen: list[tuple[str, object]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _many):
        if "sources.attributes ?" in statement:
            seen.append((statement, parameters))

    # The planner is asked which index serves the look-up (on a dozen rows it would
    # rather read the table, whatever the indexes).
    session.execute(text("SET LOCAL enable_seqscan = off"))
    engine = session.get_bind().engine
    event.listen(engine, "before_cursor_execute", keep)
    try:
        puller = Puller(Remote("http://127.0.0.1:9"), "pendinglookup")
        puller._resolve_pending()  # every waiting source was edited here since: none written
    finally:
        event.remove(engine, "before_cursor_execute", keep)

    assert len(seen) == 2  # the set-based pass's, then the one by one pass's
    cursor = session.connection().connection.cursor()
    for statement, parameters in seen:
        cursor.execute(statement, parameters)
        column = [d.name for d in cursor.description].index("id")
        assert {row[column] for row in cursor.fetchall()} == waiting
        cursor.execute("EXPLAIN " + statement, parameters)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "ix_sources_pending" in plan, plan
