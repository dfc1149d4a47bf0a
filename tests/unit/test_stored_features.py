"""Stored features (migration 0007): every write path leaves each entry's stored GeoJSON
equal to the feature built from the entry now, and readers fall back when one is missing."""

from __future__ import annotations

import json
import re

from sqlalchemy import select, text

from app.extensions import db
from app.formats.geojson import computed_feature_json, feature_functions_sql
from app.models import Entry, Tag, entry_features
from app.services.entries import SourceRef, create_entries, delete_entry, save_entry
from app.services.revisions import Author
from tests.demo_data import entries as demo_entries

AUTHOR = Author(label="stored features test")

def stale() -> list:
    """Entries whose stored feature is missing or differs from the one built now."""
    f = entry_features
    return db.session.execute(
        select(Entry.id, f.c.feature.is_(None).label("missing"))
        .outerjoin(f, f.c.entry_id == Entry.id)
        .where(f.c.feature.is_distinct_from(computed_feature_json()))).all()


def stored(entry_id) -> dict:
    raw = db.session.scalar(text("SELECT feature FROM entry_features WHERE entry_id = :id"),
                            {"id": entry_id})
    return json.loads(raw)


def demo_entry(session, slug: str | None = None) -> Entry:
    slug = slug or demo_entries()[0]["slug"]
    return session.scalar(select(Entry).where(Entry.slug == slug))


def test_the_database_functions_are_the_ones_this_code_defines(session):
    """A change of the public fields without a migration that replaces the functions
    fails here (the stored features would keep the old fields)."""
    for sql in feature_functions_sql():
        name = re.search(r"FUNCTION public\.(\w+)\(", sql).group(1)
        in_database = session.scalar(text("SELECT prosrc FROM pg_proc WHERE proname = :n"),
                                     {"n": name})
        ours = sql.split("$function$")[1]
        assert " ".join(in_database.split()) == " ".join(ours.split())


def test_every_demo_entry_has_its_feature_stored(session):
    count = session.scalar(text("SELECT count(*) FROM entry_features"))
    assert count == session.scalar(text("SELECT count(*) FROM entries")) == len(demo_entries())
    assert stale() == []


def test_an_edit_through_the_write_service_is_stored(session):
    entry = demo_entry(session)
    save_entry(entry, {"name": "Nouveau nom", "tags": ["repair"], "lon": 3.0, "lat": 50.6},
               author=AUTHOR, expected_version=entry.version)
    feature = stored(entry.id)
    assert feature["properties"]["name"] == "Nouveau nom"
    assert feature["properties"]["tags"] == ["repair"]
    assert feature["geometry"] == {"type": "Point", "coordinates": [3.0, 50.6]}
    assert feature["properties"]["version"] == entry.version
    assert stale() == []


def test_a_batch_creation_is_stored_with_its_tags_and_the_deferral_ends(session):
    ids = create_entries([
        ({"kind": "third_place", "name": f"Lieu {i}", "lon": 3.0 + i / 100, "lat": 50.6,
          "tags": ["coworking", "repair"]}, SourceRef("stored-test", str(i)))
        for i in range(3)], author=AUTHOR)
    assert [stored(i)["properties"]["tags"] for i in ids] == [["coworking", "repair"]] * 3
    assert session.scalar(text("SELECT current_setting('atlas.defer_features')")) == "off"
    entry = session.get(Entry, ids[0])
    save_entry(entry, {"name": "Renommé"}, author=AUTHOR, expected_version=entry.version)
    assert stored(ids[0])["properties"]["name"] == "Renommé"
    assert stale() == []


def test_a_renamed_tag_is_stored_in_every_feature_that_carries_it(session):
    tag = session.scalar(select(Tag).where(Tag.slug == "repair"))
    carriers = [e["slug"] for e in demo_entries() if "repair" in e.get("tags", [])]
    assert carriers
    tag.slug = "reparation"
    session.flush()
    for slug in carriers:
        assert "reparation" in stored(demo_entry(session, slug).id)["properties"]["tags"]
    assert stale() == []


def test_every_refresh_goes_in_slices_and_misses_no_entry(session):
    """Slices of 7 over 61 entries: an off-by-one at a slice's edge would leave one stale."""
    session.execute(text("SET LOCAL atlas.feature_batch = '7'"))
    session.execute(text("DELETE FROM entry_features"))
    session.execute(text("UPDATE entries SET city = upper(city)"))  # one statement, every entry
    assert stale() == []
    session.execute(text("DELETE FROM entry_features"))
    session.execute(text("SELECT atlas_refresh_features_batched(ARRAY(SELECT id FROM entries))"))
    assert stale() == []
    tag = session.scalar(select(Tag).where(Tag.slug == "repair"))
    tag.slug = "reparation"
    session.flush()
    assert stale() == []


def test_a_tombstone_and_a_write_in_plain_sql_are_stored(session):
    entry = demo_entry(session)
    delete_entry(entry, expected_version=entry.version, author=AUTHOR)
    other = demo_entry(session, demo_entries()[1]["slug"])
    session.execute(text("UPDATE entries SET city = 'Wazemmes' WHERE id = :id"),
                    {"id": other.id})
    assert stored(other.id)["properties"]["city"] == "Wazemmes"
    assert stale() == []


def test_times_are_stored_in_utc_whatever_the_writers_time_zone(session):
    session.execute(text("SET LOCAL TimeZone = 'America/New_York'"))
    entry = demo_entry(session)
    session.execute(text("UPDATE entries SET updated_at = '2026-01-02 03:04:05+00' "
                         "WHERE id = :id"), {"id": entry.id})
    assert stored(entry.id)["properties"]["updated_at"] == "2026-01-02T03:04:05+00:00"


def test_readers_build_a_feature_that_is_not_stored(client, session):
    entry = demo_entry(session)
    url = f"/ogc/collections/entries/items/{entry.id}"
    before = client.get(url).get_json()
    session.execute(text("DELETE FROM entry_features WHERE entry_id = :id"), {"id": entry.id})
    assert [row.missing for row in stale()] == [True]
    after = client.get(url).get_json()
    assert after == before and after["properties"]["slug"] == entry.slug
    page = client.get("/ogc/collections/entries/items?limit=1000").get_json()
    assert entry.slug in {f["properties"]["slug"] for f in page["features"]}
    assert not re.search(r"\bnull\b", json.dumps([f["id"] for f in page["features"]]))
