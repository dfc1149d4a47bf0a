"""The one write path: validation, optimistic versions, revisions, sources, tombstones."""

import threading

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Entry, Revision, Source
from app.services.entries import (
    SourceRef,
    create_entry,
    delete_entry,
    get_entry,
    restore_entry,
    revert_entry,
    snapshot,
    update_entry,
)
from app.services.errors import ConflictError, NotFoundError, WriteValidationError
from app.services.revisions import Author, revisions_of

EDITOR = Author(label="test editor")
NEW_PLACE = {"kind": "third_place", "name": "Café des Possibles", "lon": 3.0712,
             "lat": 50.6274, "city": "Lille", "tags": ["coworking"]}


def revision_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Revision))


def test_create_stores_revision_source_and_slug(session):
    entry = create_entry(NEW_PLACE, author=EDITOR, comment="first",
                         source=SourceRef("manual", "cafe-1", {"note": "x"}))
    assert entry.slug == "cafe-des-possibles"
    assert entry.version == 1
    assert entry.lonlat == pytest.approx((3.0712, 50.6274))
    [revision] = revisions_of("entry", entry.id)
    assert (revision.version, revision.action, revision.comment) == (1, "create", "first")
    assert revision.snapshot["tags"] == ["coworking"]
    assert revision.snapshot == snapshot(entry)
    assert [(s.origin, s.external_id) for s in entry.sources] == [("manual", "cafe-1")]

    second = create_entry(NEW_PLACE, author=EDITOR)
    assert second.slug == "cafe-des-possibles-2"


def test_validation_names_every_bad_field_and_writes_nothing(session):
    before = revision_count(session)
    bad = {"kind": "foo", "name": "", "lon": 3.0, "lat": 95, "email": "no-at-sign",
           "website": "javascript:alert(1)", "tags": ["no-such-tag"],
           "description": "x" * 2_000_000}
    with pytest.raises(WriteValidationError) as excinfo:
        create_entry(bad, author=EDITOR)
    assert set(excinfo.value.messages) >= {"kind", "name", "lat", "email", "website",
                                           "description"}
    assert "95" not in str(excinfo.value.messages["lat"])  # a message, not an echo
    assert revision_count(session) == before


def test_unknown_tag_and_relation_target_are_named(session):
    with pytest.raises(WriteValidationError) as excinfo:
        create_entry({**NEW_PLACE, "tags": ["nope"]}, author=EDITOR)
    assert excinfo.value.messages == {"tags": ["Unknown tag 'nope'."]}
    with pytest.raises(WriteValidationError) as excinfo:
        create_entry({**NEW_PLACE, "relations": [{"type": "uses", "target": "nowhere"}]},
                     author=EDITOR)
    assert list(excinfo.value.messages) == ["relations.0.target"]
    assert session.scalar(select(func.count()).select_from(Entry).where(
        Entry.name == NEW_PLACE["name"])) == 0


def test_third_place_needs_a_position_but_a_digital_commons_does_not(session):
    with pytest.raises(WriteValidationError) as excinfo:
        create_entry({"kind": "third_place", "name": "Nowhere"}, author=EDITOR)
    assert "lon" in excinfo.value.messages
    commons = create_entry({"kind": "commons", "name": "Framapad", "licence": "Apache-2.0"},
                           author=EDITOR)
    assert commons.geom is None


def test_update_bumps_version_and_keeps_history(session):
    entry = get_entry("mutualab")
    version = entry.version
    result = update_entry(entry, {"summary": "Nouveau résumé"}, expected_version=version,
                          author=EDITOR, comment="typo")
    assert result.action == "updated"
    assert entry.version == version + 1
    history = revisions_of("entry", entry.id)
    assert [r.version for r in history][-2:] == [version, version + 1]
    assert history[-1].snapshot["summary"] == "Nouveau résumé"
    assert history[-2].snapshot["summary"] != "Nouveau résumé"


def test_a_write_that_changes_nothing_writes_nothing(session):
    entry = get_entry("mutualab")
    version, before = entry.version, revision_count(session)
    result = update_entry(entry, {"name": entry.name, "lon": entry.lonlat[0],
                                  "lat": entry.lonlat[1]},
                          expected_version=version, author=EDITOR)
    assert result.action == "unchanged"
    assert entry.version == version
    assert revision_count(session) == before


def test_stale_version_is_refused_and_the_row_is_unchanged(session):
    entry = get_entry("la-coroutine")
    opened_at = entry.version
    update_entry(entry, {"summary": "Written first"}, expected_version=opened_at,
                 author=EDITOR)
    stored = snapshot(entry)
    revisions = revision_count(session)
    with pytest.raises(ConflictError) as excinfo:
        update_entry(entry, {"summary": "Written second, from a stale form"},
                     expected_version=opened_at, author=EDITOR)
    assert (excinfo.value.expected, excinfo.value.current) == (opened_at, opened_at + 1)
    session.expire_all()
    assert snapshot(get_entry("la-coroutine")) == stored
    assert revision_count(session) == revisions


def test_delete_is_a_tombstone_and_restore_brings_relations_back(session):
    entry = get_entry("mutualab")
    relations_in = len(entry.relations_in)
    assert relations_in > 0
    delete_entry(entry, expected_version=entry.version, author=EDITOR, comment="closed?")
    with pytest.raises(NotFoundError):
        get_entry("mutualab")
    assert get_entry("mutualab", include_deleted=True).deleted_at is not None
    restore_entry(entry, expected_version=entry.version, author=EDITOR)
    session.expire_all()
    restored = get_entry("mutualab")
    assert len(restored.relations_in) == relations_in
    assert [r.action for r in revisions_of("entry", entry.id)][-2:] == ["delete", "restore"]


def test_revert_writes_the_old_content_as_a_new_revision(session):
    entry = get_entry("la-cofabrik")
    first = entry.version
    original = snapshot(entry)
    update_entry(entry, {"name": "La Cofabrik (renamed)", "tags": ["coworking"],
                         "lon": 3.1, "lat": 50.7}, expected_version=first, author=EDITOR)
    result = revert_entry(entry, first, expected_version=entry.version, author=EDITOR)
    assert result.action == "updated"
    assert entry.version == first + 2
    reverted = snapshot(entry)
    for key in ("name", "tags", "lon", "lat", "relations"):
        assert reverted[key] == original[key]
    assert revisions_of("entry", entry.id)[-1].action == "revert"


def test_a_source_cannot_move_to_another_entry(session):
    taken = session.scalar(select(Source).where(Source.origin == "demo"))
    with pytest.raises(WriteValidationError) as excinfo:
        create_entry(NEW_PLACE, author=EDITOR,
                     source=SourceRef(taken.origin, taken.external_id))
    assert "source" in excinfo.value.messages


def test_concurrent_writers_from_one_version_only_one_wins(app):
    """Two real connections read version N; both write; the database lets one through."""
    with app.app_context():
        entry = create_entry({"kind": "commons", "name": "Race commons"}, author=EDITOR)
        entry_id, version = entry.id, entry.version
        db.session.remove()
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def writer(n: int) -> None:
        with app.app_context():
            mine = db.session.get(Entry, entry_id)
            barrier.wait()
            try:
                update_entry(mine, {"summary": f"writer {n}"}, expected_version=version,
                             author=EDITOR)
                outcomes.append("ok")
            except ConflictError:
                outcomes.append("conflict")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert sorted(outcomes) == ["conflict", "conflict", "conflict", "ok"]
        with app.app_context():
            stored = db.session.get(Entry, entry_id)
            assert stored.version == version + 1
            assert len(revisions_of("entry", entry_id)) == 2
    finally:
        with app.app_context():
            db.session.execute(Revision.__table__.delete().where(
                Revision.entity_id == entry_id))
            db.session.execute(Entry.__table__.delete().where(Entry.id == entry_id))
            db.session.commit()
