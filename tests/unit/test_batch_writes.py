"""The batch write (POST /api/v1/entries/batch) against the real database, through the
test client: the statements it costs per batch and each item's own outcome when many
items update at once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from app.extensions import db
from app.models import Entry, EntryFieldSource, Revision
from app.services.tokens import create_token

URL = "/api/v1/entries/batch"


@pytest.fixture
def editor(accounts) -> dict[str, str]:
    token, _ = create_token(accounts["editor"], "batch script")
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements sent while the block runs."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ARG001
        sent.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def place(n: int) -> dict:
    # Far apart and differently named: no item is a twin of another.
    return {"kind": "initiative", "name": f"Atelier numéro {n} {uuid.uuid4().hex[:6]}",
            "lon": 2.0 + n * 0.01, "lat": 48.0 + n * 0.01}


def creations(count: int) -> list[dict]:
    return [{"id": str(uuid.uuid4()), "if_none_match": "*",
             "source": f"remote:batchtest {n}", "entry": place(n)} for n in range(count)]


def test_a_batch_of_creations_looks_for_twins_once_for_the_whole_batch(client, editor):
    items = creations(12)
    with statements() as sent:
        response = client.post(URL, json={"items": items}, headers=editor)
    assert response.status_code == 200
    assert [a["status"] for a in response.get_json()["items"]] == [201] * 12
    twin_queries = [s for s in sent if "CROSS JOIN LATERAL" in s and "similarity(" in s]
    assert len(twin_queries) == 1, len(twin_queries)
