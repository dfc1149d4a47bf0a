"""Many updates at once (app/services/entry_updates.py): the same writes as save_entry's,
each item its own outcome, and nothing half-written when the database refuses the batch."""

from __future__ import annotations

from sqlalchemy import func, select, text

from app.extensions import db
from app.models import Entry, EntryFieldSource, Revision
from app.services.entries import SourceRef, create_entry, save_entry, snapshot
from app.services.entry_updates import Update, update_entries
from app.services.errors import ConflictError, WriteValidationError
from app.services.revisions import Author, revisions_of

EDITOR = Author(label="test editor")


def place(n: int) -> dict:
    return {"kind": "initiative", "name": f"Ressourcerie {n}", "lon": 3.0 + n / 100,
            "lat": 50.6, "city": "Lille", "tags": ["repair"]}


def made(count: int, key: str = "") -> list[Entry]:
    return [create_entry(place(n), author=EDITOR, source=SourceRef("csv:test", f"{key}{n}"))
            for n in range(count)]


def holders(entry: Entry) -> list[tuple]:
    return sorted(db.session.execute(select(
        EntryFieldSource.field, EntryFieldSource.origin, EntryFieldSource.value_hash)
        .where(EntryFieldSource.entry_id == entry.id)).all())


def without_ids(shot: dict) -> dict:
    return {k: v for k, v in shot.items() if k not in ("id", "slug")}


def test_a_batch_writes_what_save_entry_writes_one_by_one(session):
    batched, single = made(3, "b"), made(3, "s")
    target = str(single[0].id)
    changes = [{"summary": "Réparer ensemble.", "tags": ["repair", "coworking"]},
               {"lon": None, "lat": None, "kind": "commons"},
               {"name": "Ressourcerie du coin", "relations": [{"type": "uses",
                                                               "target": target}]}]
    outcomes = update_entries(
        [Update(e, c, expected_version=1, source=SourceRef("csv:test", f"nb{n}"))
         for n, (e, c) in enumerate(zip(batched, changes, strict=True))], author=EDITOR)
    for n, (entry, change) in enumerate(zip(single, changes, strict=True)):
        save_entry(entry, change, author=EDITOR, expected_version=1,
                   source=SourceRef("csv:test", f"ns{n}"))
    db.session.commit()
    assert [o.action for o in outcomes] == ["updated"] * 3
    for mine, theirs in zip(batched, single, strict=True):
        db.session.refresh(mine)
        assert mine.version == theirs.version == 2
        assert without_ids(snapshot(mine)) == without_ids(snapshot(theirs))
        assert without_ids(revisions_of("entry", mine.id)[-1].snapshot) == \
            without_ids(revisions_of("entry", theirs.id)[-1].snapshot)
        assert holders(mine) == holders(theirs)
        assert sorted(s.external_id.lstrip("nbs") for s in mine.sources) == \
            sorted(s.external_id.lstrip("nbs") for s in theirs.sources)
        assert len(mine.sources) == 2


def test_each_item_keeps_its_own_refusal(session):
    entries = made(4)
    outcomes = update_entries([
        Update(entries[0], {"summary": "Bien."}, expected_version=1),
        Update(entries[1], {"email": "pas une adresse"}, expected_version=1),
        Update(entries[2], {"summary": "Trop tard."}, expected_version=7),
        Update(entries[3], {"tags": ["no-such-tag"]}, expected_version=1),
    ], author=EDITOR)
    db.session.commit()
    assert outcomes[0].action == "updated"
    assert isinstance(outcomes[1], WriteValidationError) and "email" in outcomes[1].messages
    assert isinstance(outcomes[2], ConflictError)
    assert isinstance(outcomes[3], WriteValidationError) and "tags" in outcomes[3].messages
    assert [e.version for e in entries] == [2, 1, 1, 1]


def test_a_batch_the_database_refuses_is_undone_and_each_item_written_alone(session):
    entries = made(3)
    revisions = db.session.scalar(select(func.count()).select_from(Revision))
    # Another writer changed the second entry after this one read it: the batch's UPDATE
    # of it matches no row, which undoes the whole batch.
    db.session.execute(text("UPDATE entries SET version = version + 1, summary = 'Ailleurs.' "
                            "WHERE id = :id"), {"id": entries[1].id})
    outcomes = update_entries([Update(e, {"summary": f"Lot {n}."}, expected_version=1)
                               for n, e in enumerate(entries)], author=EDITOR)
    db.session.commit()
    assert [type(o).__name__ for o in outcomes] == ["WriteResult", "ConflictError",
                                                    "WriteResult"]
    summaries = [db.session.get(Entry, e.id).summary for e in entries]
    assert summaries == ["Lot 0.", "Ailleurs.", "Lot 2."]
    assert db.session.scalar(select(func.count()).select_from(Revision)) == revisions + 2
    assert [len(revisions_of("entry", e.id)) for e in entries] == [2, 1, 2]
