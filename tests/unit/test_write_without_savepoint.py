"""save_entry(savepoint=False), the importers' updates: a refusal is found before anything
is written, so the session stays clean and the transaction goes on."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from app.extensions import db
from app.models import Entry, Revision, Source
from app.services.entries import SourceRef, create_entry, save_entry, snapshot
from app.services.errors import WriteValidationError
from app.services.revisions import Author

EDITOR = Author(label="test importer")
PLACE = {"kind": "third_place", "name": "Le Bazar Commun", "lon": 3.0612, "lat": 50.6251,
         "tags": ["coworking"]}


def _revisions(entry: Entry) -> int:
    return db.session.scalar(select(func.count()).select_from(Revision).where(
        Revision.entity_id == entry.id))


@pytest.mark.parametrize("change, source, field", [
    ({"tags": ["coworking", "no-such-tag"]}, None, "tags"),
    ({"name": "Le Bazar"}, SourceRef("csv:other", "k-1"), "source"),
    ({"name": ""}, None, "name"),
])
def test_a_refused_update_writes_nothing_and_the_transaction_goes_on(session, change, source,
                                                                     field):
    entry = create_entry(PLACE, author=EDITOR, commit=False)
    other = create_entry({**PLACE, "name": "Ailleurs", "lon": 3.1},
                         author=EDITOR, source=SourceRef("csv:other", "k-1"), commit=False)
    before, revisions = snapshot(entry), _revisions(entry)
    with pytest.raises(WriteValidationError) as refused:
        save_entry(entry, change, author=EDITOR, expected_version=entry.version,
                   source=source, commit=False, savepoint=False)
    assert field in refused.value.messages
    assert entry not in db.session.dirty and not db.session.new
    db.session.flush()
    db.session.expire_all()
    assert snapshot(entry) == before and _revisions(entry) == revisions
    assert db.session.scalar(select(Source.entry_id).where(
        Source.origin == "csv:other")) == other.id
    # The same transaction is still usable: the next write goes through.
    result = save_entry(entry, {"city": "Lille"}, author=EDITOR,
                        expected_version=entry.version, commit=False, savepoint=False)
    assert result.action == "updated" and entry.city == "Lille"
    assert db.session.scalar(text("SELECT 1")) == 1


def test_updates_without_savepoints_store_what_updates_with_them_do(session):
    first = create_entry(PLACE, author=EDITOR, commit=False)
    second = create_entry({**PLACE, "name": "Le Bazar Jumeau", "lon": 3.07},
                          author=EDITOR, commit=False)
    change = {"street": "3 rue d'Arras", "tags": ["coworking", "garden"], "lon": 3.0613,
              "lat": 50.6252}
    save_entry(first, change, author=EDITOR, expected_version=1, commit=False,
               source=SourceRef("csv:t", "a"))
    save_entry(second, change, author=EDITOR, expected_version=1, commit=False,
               source=SourceRef("csv:t", "b"), savepoint=False)
    a, b = snapshot(first), snapshot(second)
    for key in ("id", "slug", "name"):
        a.pop(key), b.pop(key)
    assert a == b and first.version == second.version == 2
    assert [s.external_id for s in second.sources] == ["b"]
