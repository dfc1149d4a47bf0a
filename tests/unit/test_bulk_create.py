"""create_entries (the importers' batch path) writes what save_entry would."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Entry, Revision, Source
from app.services.entries import (
    SourceRef,
    create_entries,
    find_by_source,
    save_entry,
    snapshot,
    validate_entry,
)
from app.services.errors import WriteValidationError
from app.services.revisions import Author
from tests.demo_data import entries as demo_entries

AUTHOR = Author(label="import test")


def test_batch_creation_matches_the_single_write_path(session):
    demo_name = demo_entries()[0]["name"]
    items = [
        ({"kind": "third_place", "name": demo_name, "lon": 3.1, "lat": 50.6,
          "tags": ["coworking", "repair"], "website": "https://a.example.org"},
         SourceRef("batch", "1", {"raw": {"x": "1"}}, "CC0")),
        (validate_entry({"kind": "commons", "name": "Boîte à livres"}),
         SourceRef("batch", "2")),
        ({"kind": "commons", "name": "Boîte à livres", "founded": "1999"},
         SourceRef("batch", "3")),
    ]
    ids = create_entries(items, author=AUTHOR, comment="batch")
    created = [db.session.get(Entry, i) for i in ids]
    slugs = [e.slug for e in created]
    assert len(set(slugs)) == 3 and slugs[1] == "boite-a-livres"
    assert slugs[2] == "boite-a-livres-2"
    demo_slug = demo_entries()[0]["slug"]
    assert slugs[0].startswith(demo_slug + "-")
    assert created[2].founded == 1999
    for entry, (_data, source) in zip(created, items, strict=True):
        revision = db.session.scalar(select(Revision).where(Revision.entity_id == entry.id))
        assert revision.snapshot == snapshot(entry)
        assert (revision.version, revision.action, revision.author_label) == \
            (1, "create", "import test")
        assert find_by_source(source.origin, source.external_id) is entry
    stored = db.session.scalar(select(Source).where(Source.external_id == "1",
                                                    Source.origin == "batch"))
    assert stored.attributes == {"raw": {"x": "1"}} and stored.licence == "CC0"
    # The single path then takes over: an update bumps the version as usual.
    result = save_entry(created[0], {"summary": "Ensuite"}, author=AUTHOR,
                        expected_version=1, commit=False)
    assert result.action == "updated" and result.entry.version == 2


def test_batch_creation_refuses_invalid_rows_before_writing(session):
    count = db.session.query(Entry).count()
    with pytest.raises(WriteValidationError) as refused:
        create_entries([
            ({"kind": "commons", "name": "Bien"}, SourceRef("batch", "a")),
            ({"kind": "third_place", "name": "Sans position"}, SourceRef("batch", "b")),
            ({"kind": "commons", "name": "Étiquette", "tags": ["nope"]},
             SourceRef("batch", "c")),
        ], author=AUTHOR)
    assert set(refused.value.messages) == {"1.lon"}
    assert db.session.query(Entry).count() == count
    with pytest.raises(WriteValidationError, match="Unknown tag 'nope'"):
        create_entries([({"kind": "commons", "name": "Étiquette", "tags": ["nope"]},
                         SourceRef("batch", "c"))], author=AUTHOR)
    assert db.session.query(Entry).count() == count


def test_batch_creation_keeps_special_characters(session):
    name = "Tab\tback\\slash «quotes» \"and\" 'more'"
    description = "Line one\nline two\r\nend \\N"
    raw = {"cell": "a\tb\nc\\d\r\n", "nested": {"é": ["\\N", None, 1.5]}}
    [entry_id] = create_entries([({"kind": "commons", "name": name,
                                   "description": description},
                                  SourceRef("batch", "special\tid", {"raw": raw}))],
                                author=AUTHOR)
    entry = db.session.get(Entry, entry_id)
    # The text as every writer stores it (app/normalise.py): LF line ends; the raw
    # cells of the source are kept as read, CR included.
    assert entry.name == name and entry.description == "Line one\nline two\nend \\N"
    source = db.session.scalar(select(Source).where(Source.entry_id == entry_id))
    assert source.external_id == "special\tid" and source.attributes == {"raw": raw}
    revision = db.session.scalar(select(Revision).where(Revision.entity_id == entry_id))
    assert revision.snapshot == snapshot(entry)
