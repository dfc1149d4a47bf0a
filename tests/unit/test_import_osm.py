"""OpenStreetMap imports: files (PBF, XML), Overpass, idempotency, conflicts, twins."""

from __future__ import annotations

import json
import threading
import xml.etree.ElementTree as ET
from http.server import ThreadingHTTPServer
from pathlib import Path

import osmium
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Entry, Revision, Source, Tag
from app.services.entries import save_entry, snapshot
from app.services.revisions import Author
from importers.mapping import load_osm_mapping
from importers.osm_files import ScanStats, read_osm_file
from importers.osm_overpass import (
    OverpassError,
    build_query,
    default_area,
    fetch,
    read_overpass,
)
from importers.pipeline import ImportFailed
from importers.records import Candidate
from tests.demo_data import entries as demo_entries
from tests.demo_data import haversine_m
from tests.support.importer import DATA, entries_of, items_of, run_import, table_counts
from tests.support.overpass import FIXTURE, FlakyOverpass, fixture_objects
from tests.support.serving import serving

NAMED = DATA / "mappings" / "osm-named.toml"


def candidates(items) -> list[Candidate]:
    return [c for c in items if isinstance(c, Candidate)]


# -- readers ------------------------------------------------------------------------

def test_pbf_and_xml_of_a_real_extract_give_the_same_entries(session):
    mapping = load_osm_mapping(NAMED)
    from_pbf = run_import(mapping, read_osm_file(DATA / "saint-barthelemy.osm.pbf", mapping))
    by_pbf = {k: snapshot(e) for k, e in entries_of(mapping.origin).items()}
    assert from_pbf.counts["created"] == len(by_pbf) > 50
    assert any(k.startswith("way/") for k in by_pbf) and any(k.startswith("node/")
                                                             for k in by_pbf)

    # The XML of the same extract, read again on top: every record is found unchanged.
    from_xml = run_import(mapping, read_osm_file(DATA / "saint-barthelemy.osm.gz", mapping))
    assert from_xml.counts["unchanged"] == len(by_pbf)
    assert from_xml.counts["created"] == from_xml.counts["updated"] == 0
    pbf = candidates(read_osm_file(DATA / "saint-barthelemy.osm.pbf", mapping))
    xml = candidates(read_osm_file(DATA / "saint-barthelemy.osm.gz", mapping))
    assert [(c.external_id, c.data, c.raw) for c in pbf] == \
        [(c.external_id, c.data, c.raw) for c in xml]


def test_compressed_xml_reads_like_plain_xml(tmp_path):
    import bz2
    import gzip

    mapping = load_osm_mapping()
    plain = candidates(read_osm_file(FIXTURE, mapping))
    for suffix, opener in ((".osm.bz2", bz2.open), (".osm.gz", gzip.open)):
        packed = tmp_path / f"fixture{suffix}"
        with opener(packed, "wb") as handle:
            handle.write(FIXTURE.read_bytes())
        read = candidates(read_osm_file(packed, mapping))
        assert [(c.external_id, c.data) for c in read] == \
            [(c.external_id, c.data) for c in plain]
    assert len(plain) == sum(1 for o in fixture_objects() if mapping.classify(o["tags"]))


def test_an_extract_whose_ways_lack_nodes_imports_the_rest(session, tmp_path):
    mapping = load_osm_mapping(NAMED)
    complete = candidates(read_osm_file(DATA / "saint-barthelemy.osm.pbf", mapping))
    ways = [c for c in complete if c.external_id.startswith("way/")]
    # Drop every node of the first selected way and one node of the second.
    victims: set[int] = set()
    way_nodes: dict[int, list[int]] = {}
    for obj in osmium.FileProcessor(str(DATA / "saint-barthelemy.osm.pbf"),
                                    osmium.osm.WAY):
        way_nodes[obj.id] = [n.ref for n in obj.nodes]
    first, second = (int(c.external_id.split("/")[1]) for c in ways[:2])
    victims.update(way_nodes[first])
    victims.add(way_nodes[second][0])
    cut = tmp_path / "cut.osm.pbf"
    with osmium.SimpleWriter(str(cut)) as writer:
        for obj in osmium.FileProcessor(str(DATA / "saint-barthelemy.osm.pbf")):
            if not (obj.is_node() and obj.id in victims):
                writer.add(obj)

    stats = ScanStats()
    result = run_import(mapping, read_osm_file(cut, mapping, stats))
    imported = entries_of(mapping.origin)
    assert f"way/{first}" not in imported
    assert f"way/{second}" in imported
    assert stats.skipped_ways == 1
    assert stats.missing_nodes >= len(set(way_nodes[first])) + 1
    assert items_of(result.report, "skipped")[0]["external_id"] == f"way/{first}"
    # Everything else of the complete extract is there.
    expected = {c.external_id for c in complete} - {f"way/{first}"}
    expected -= {f"node/{n}" for n in victims}
    assert expected <= set(imported)


def test_the_lille_fixture_covers_every_rule_and_attribute(session):
    mapping = load_osm_mapping()
    objects = fixture_objects()
    # Every rule and extra rule of the mapping matches some object of the fixture.
    for rule in [*mapping.rules, *mapping.extra]:
        assert any(rule.matches(o["tags"]) for o in objects), rule
    result = run_import(mapping, read_osm_file(FIXTURE, mapping))
    imported = entries_of("osm")
    selected = [o for o in objects if mapping.classify(o["tags"]) is not None]
    assert {o["type"] for o in selected} == {"node", "way", "relation"}
    assert set(imported) == {f"{o['type']}/{o['id']}" for o in selected}
    assert result.counts["created"] == len(selected)

    for obj in selected:
        entry = imported[f"{obj['type']}/{obj['id']}"]
        tags = obj["tags"]
        rule, slugs = mapping.classify(tags)
        assert entry.kind == rule.kind
        assert [t.slug for t in entry.tags] == slugs
        assert entry.name == tags.get("name", rule.default_name)
        for key, attribute in (("opening_hours", "opening_hours"),
                               ("description", "description"),
                               ("addr:postcode", "postcode"), ("addr:city", "city")):
            if key in tags:
                assert getattr(entry, attribute) == tags[key]
        website = tags.get("website") or tags.get("contact:website")
        if website:
            assert entry.website.endswith(website)
        email = tags.get("email") or tags.get("contact:email")
        if email and "@" in email:
            assert entry.email == email
        phone = tags.get("phone") or tags.get("contact:phone")
        if phone:
            assert entry.phone == phone.split(";")[0]
        if obj["type"] == "node":
            assert entry.lonlat == pytest.approx((float(obj["lon"]), float(obj["lat"])))
        source = db.session.scalar(select(Source).where(
            Source.entry_id == entry.id, Source.origin == "osm"))
        assert source.licence == "© OpenStreetMap contributors, ODbL 1.0"
        assert source.attributes["raw"] == tags
        for key in ("operator", "check_date"):
            if key in tags:
                assert source.attributes["mapped"]["extra"][key] == tags[key]
        assert entry.osm_object == f"{obj['type']}/{obj['id']}"
        if "addr:city" not in tags and "addr:full" not in tags:
            assert entry.city  # from the position
    # The identifiers of other registers, tidied; a SIRET whose key is wrong is dropped
    # and said, invalid opening hours are kept as text and said.
    first = imported["node/9100000001"]
    assert (first.siret, first.rna, first.wikidata) == ("91000001700004", "W595000001",
                                                        "Q123456789")
    warnings = items_of(result.report, "warning")
    second = imported["node/9100000002"]
    assert second.siret is None
    assert any(w["field"] == "siret" and w["external_id"] == "node/9100000002"
               and "SIRET" in w["reason"] for w in warnings), warnings
    assert second.opening_hours == "Mo-Fr 9h-18h"
    hours = next(w for w in warnings if w["field"] == "opening_hours")
    assert hours["external_id"] == "node/9100000002"
    assert "character 7" in hours["reason"] and "Kept as text" in hours["reason"]
    # addr:full as a fallback, an invalid e-mail dropped with a warning.
    full = next(o for o in selected if "addr:full" in o["tags"])
    entry = imported[f"node/{full['id']}"]
    assert f"{entry.street}, {entry.postcode} {entry.city}" == full["tags"]["addr:full"]
    warnings = items_of(result.report, "warning")
    bad = next(o for o in selected if o["tags"].get("email") == "not-an-email")
    assert any(w["field"] == "email" and w["external_id"] == f"node/{bad['id']}"
               for w in warnings)
    # The relation is placed at the centre of its member way's nodes.
    nodes = {o["id"]: o for o in objects if o["type"] == "node"}
    relation = next(o for o in selected if o["type"] == "relation")
    member_nodes = [nodes[int(nd.get("ref"))]
                    for way in ET.parse(FIXTURE).getroot().iter("way")
                    if way.get("id") in {m.get("ref") for m in ET.parse(FIXTURE).getroot()
                                         .find(f"relation[@id='{relation['id']}']")
                                         .iter("member")}
                    for nd in way.iter("nd")]
    lons = [float(n["lon"]) for n in member_nodes]
    lats = [float(n["lat"]) for n in member_nodes]
    assert imported[f"relation/{relation['id']}"].lonlat == pytest.approx(
        ((min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2))
    # The tags the mapping declares exist now.
    declared = {t["slug"] for t in mapping.tags}
    assert declared <= set(db.session.scalars(select(Tag.slug)))


# -- one pipeline: idempotency, conflicts, twins -----------------------------------------

def test_importing_the_same_file_twice_changes_nothing(session):
    mapping = load_osm_mapping()
    first = run_import(mapping, read_osm_file(FIXTURE, mapping))
    assert first.counts["created"] > 10
    before = table_counts()
    versions = {k: e.version for k, e in entries_of("osm").items()}
    second = run_import(mapping, read_osm_file(FIXTURE, mapping))
    assert second.counts["created"] == second.counts["updated"] == 0
    assert second.counts["unchanged"] == first.counts["created"]
    assert table_counts() == before
    assert {k: e.version for k, e in entries_of("osm").items()} == versions


def test_a_manual_edit_survives_a_reimport_and_is_reported_as_a_conflict(session, tmp_path):
    mapping = load_osm_mapping()
    run_import(mapping, read_osm_file(FIXTURE, mapping))
    entry = entries_of("osm")["node/9100000001"]
    editor = Author(label="editor ada")
    save_entry(entry, {"opening_hours": "Tu-Sa 10:00-19:00", "summary": "Écrit à la main"},
               author=editor, expected_version=entry.version, commit=False)

    # OSM changes the same field (and another one the editor did not touch).
    text = FIXTURE.read_text(encoding="utf-8")
    changed = tmp_path / "changed.osm"
    changed.write_text(text.replace('v="Mo-Fr 09:00-18:00"', 'v="Mo-Sa 08:00-20:00"')
                           .replace('v="+33 3 20 00 00 01"', 'v="+33 3 20 99 99 99"'),
                       encoding="utf-8")
    result = run_import(mapping, read_osm_file(changed, mapping))
    conflicts = items_of(result.report, "conflict")
    assert [(c["external_id"], c["field"]) for c in conflicts] == [
        ("node/9100000001", "opening_hours")]
    assert conflicts[0]["details"]["incoming"] == "Mo-Sa 08:00-20:00"
    assert result.counts["conflicts"] == 1
    assert result.counts["updated"] == 1
    db.session.refresh(entry)
    assert entry.opening_hours == "Tu-Sa 10:00-19:00"       # the editor's value stays
    assert entry.summary == "Écrit à la main"
    assert entry.phone == "+33 3 20 99 99 99"               # the untouched field follows OSM
    last = db.session.scalars(select(Revision).where(Revision.entity_id == entry.id)
                              .order_by(Revision.version.desc())).first()
    assert last.author_label == "import osm"

    # Same input again: nothing to write, nothing more to report.
    again = run_import(mapping, read_osm_file(changed, mapping))
    assert again.counts["updated"] == again.counts["conflicts"] == 0
    db.session.refresh(entry)
    assert entry.opening_hours == "Tu-Sa 10:00-19:00"


def _overpass_answer(elements: list[dict]) -> dict:
    return {"version": 0.6, "elements": elements}


def test_a_near_twin_is_flagged_not_created(session):
    mapping = load_osm_mapping()
    demo = next(e for e in demo_entries() if e["slug"] == "mutualab")
    # 20 m north of the demo entry, the name spelled differently.
    lat = demo["lat"] + 20 / 111_195
    assert haversine_m(demo["lon"], demo["lat"], demo["lon"], lat) == pytest.approx(20, abs=1)
    twin = {"type": "node", "id": 1, "lat": lat, "lon": demo["lon"],
            "tags": {"amenity": "coworking_space", "name": "MutuaLab coworking"}}
    far = {"type": "node", "id": 2, "lat": demo["lat"] + 0.01, "lon": demo["lon"],
           "tags": {"amenity": "coworking_space", "name": "Mutualab"}}
    other = {"type": "node", "id": 3, "lat": lat, "lon": demo["lon"],
             "tags": {"amenity": "coworking_space", "name": "Ruche d'entreprises"}}
    count_before = table_counts()["entries"]
    result = run_import(mapping, read_overpass(_overpass_answer([twin, far, other]), mapping))
    flagged = items_of(result.report, "duplicate")
    assert [f["external_id"] for f in flagged] == ["node/1"]
    mutualab = db.session.scalar(select(Entry).where(Entry.slug == "mutualab"))
    assert flagged[0]["entry"] == str(mutualab.id)
    assert flagged[0]["details"]["data"]["name"] == "MutuaLab coworking"
    assert result.counts["duplicates"] == 1 and result.counts["created"] == 2
    assert table_counts()["entries"] == count_before + 2
    assert "node/1" not in entries_of("osm")


def test_twins_by_website_and_within_one_import_are_flagged(session):
    mapping = load_osm_mapping()
    demo = next(e for e in demo_entries() if e.get("website") and "lon" in e)
    same_site = {"type": "node", "id": 11, "lat": 50.70, "lon": 3.20,
                 "tags": {"amenity": "coworking_space", "name": "Tout autre nom",
                          "website": demo["website"].replace("https://", "http://www.") + "/"}}
    a = {"type": "node", "id": 12, "lat": 50.6001, "lon": 3.1001,
         "tags": {"amenity": "community_centre", "name": "Maison des Bouleaux"}}
    b = {"type": "way", "id": 12, "center": {"lat": 50.6002, "lon": 3.1002},
         "tags": {"amenity": "community_centre", "name": "Maison des bouleaux (la)"}}
    result = run_import(mapping, read_overpass(_overpass_answer([same_site, a, b]), mapping))
    flagged = {f["external_id"]: f for f in items_of(result.report, "duplicate")}
    assert set(flagged) == {"node/11", "way/12"}
    assert "same website" in flagged["node/11"]["reason"]
    assert flagged["way/12"]["details"]["twin_external_id"] == "node/12"


def test_a_full_reimport_reports_what_disappeared_and_closes_it_on_request(session):
    mapping = load_osm_mapping()
    elements = json.loads((DATA / "overpass-lille.json").read_text())["elements"]
    run_import(mapping, read_overpass(_overpass_answer(elements), mapping))
    kept = [e for e in elements if not (e["type"] == "way" and e["id"] == 9100000001)]
    partial = run_import(mapping, read_overpass(_overpass_answer(kept), mapping))
    assert items_of(partial.report, "missing") == []          # not a --full run
    full = run_import(mapping, read_overpass(_overpass_answer(kept), mapping), full=True)
    assert [m["external_id"] for m in items_of(full.report, "missing")] == ["way/9100000001"]
    assert entries_of("osm")["way/9100000001"].status == "active"
    closing = run_import(mapping, read_overpass(_overpass_answer(kept), mapping), full=True,
                         close_missing=True)
    assert closing.counts["closed"] == 1
    assert entries_of("osm")["way/9100000001"].status == "closed"


def test_a_failed_run_leaves_the_base_as_it_was(session):
    mapping = load_osm_mapping()
    before = table_counts()

    def exploding():
        yield from read_osm_file(FIXTURE, mapping)
        raise OSError("disk vanished")

    with pytest.raises(ImportFailed, match="disk vanished") as failure:
        run_import(mapping, exploding(), batch_size=3)
    assert table_counts() == before
    assert failure.value.run.status == "failed"
    assert failure.value.run.created == 0
    assert failure.value.run.error == "disk vanished"


def test_an_interrupted_run_leaves_the_base_as_it_was(session):
    from tests.support.importer import runs

    mapping = load_osm_mapping()
    before = table_counts()

    def interrupted():
        yield from read_osm_file(FIXTURE, mapping)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_import(mapping, interrupted(), batch_size=4)
    assert table_counts() == before
    assert runs()[-1].status == "interrupted"


def test_a_dry_run_reports_everything_and_writes_nothing(session):
    mapping = load_osm_mapping()
    before = table_counts()
    tags_before = set(db.session.scalars(select(Tag.slug)))
    result = run_import(mapping, read_osm_file(FIXTURE, mapping), dry_run=True)
    assert result.counts["created"] > 10
    assert result.run.dry_run and result.run.status == "dry run"
    assert result.run.created == result.counts["created"]
    assert table_counts() == before
    assert set(db.session.scalars(select(Tag.slug))) == tags_before


# -- Overpass over HTTP ------------------------------------------------------------------

@pytest.fixture
def overpass_server():
    FlakyOverpass.answer = (DATA / "overpass-lille.json").read_bytes()
    FlakyOverpass.failures = 0
    FlakyOverpass.queries = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyOverpass)
    thread = threading.Thread(target=serving(server), daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_port}/api/interpreter"
    server.shutdown()
    thread.join(timeout=5)


def test_overpass_query_fetch_with_retries_and_import(session, overpass_server):
    _server, url = overpass_server
    mapping = load_osm_mapping()
    query = build_query(mapping, default_area())
    area = default_area()
    assert f"({area.min_lat},{area.min_lon},{area.max_lat},{area.max_lon})" in query
    assert '["amenity"="coworking_space"]' in query and "out center tags;" in query
    FlakyOverpass.failures = 2
    answer = fetch(query, url, timeout=5, retries=3, backoff=0)
    assert len(FlakyOverpass.queries) == 3 and FlakyOverpass.queries[-1] == query
    result = run_import(mapping, read_overpass(answer, mapping))
    imported = entries_of("osm")
    # Ids are unique per type only: node, way and relation 9100000001 are three records.
    assert {"node/9100000001", "way/9100000001", "relation/9100000001"} <= set(imported)
    assert imported["relation/9100000001"].lonlat == pytest.approx((3.18, 50.69))
    assert "node/9100000012" in imported          # no name: the rule's default name
    assert imported["node/9100000012"].name == "Boîte à dons"
    assert "node/9100000097" not in imported      # a restaurant: no rule
    assert [s["external_id"] for s in items_of(result.report, "skipped")] == \
        ["way/9100000098"]                        # no centre in the answer


def test_overpass_errors_are_clear(overpass_server):
    _server, url = overpass_server
    FlakyOverpass.failures = 10
    with pytest.raises(OverpassError, match="HTTP 503"):
        fetch("[out:json];", url, timeout=5, retries=1, backoff=0)
    with pytest.raises(OverpassError, match="did not answer"):
        fetch("[out:json];", "http://127.0.0.1:9/api/interpreter", timeout=2, retries=0)
    with pytest.raises(OverpassError, match="reported a problem: runtime error"):
        list(read_overpass({"elements": [], "remark": "runtime error: timeout"},
                           load_osm_mapping()))


def test_overpass_query_escapes_values(tmp_path):
    mapping_file = tmp_path / "m.toml"
    mapping_file.write_text('[[rules]]\nwhen = { name = \'~a"b\' }\nkind = "commons"\n')
    query = build_query(load_osm_mapping(mapping_file), default_area())
    assert '["name"~"a\\"b",i]' in query


def test_mapping_errors_name_the_file(tmp_path):
    from importers.mapping import MappingError

    bad = tmp_path / "bad.toml"
    bad.write_text('[[rules]]\nwhen = { amenity = "x" }\nkind = "shop"\n')
    with pytest.raises(MappingError, match=r"bad.toml: rules\[0\]: kind must be one of"):
        load_osm_mapping(bad)
    assert Path(load_osm_mapping().path).name == "osm.toml"
    # A declared tag is checked by the one tag rule (app/services/tags.py) when the file is
    # read, not by the database's constraint in the middle of the run.
    bad.write_text('[[tags]]\nslug = "Vélo"\nlabel_fr = "Vélo"\nlabel_en = "Bike"\n\n'
                   '[[rules]]\nwhen = { amenity = "x" }\nkind = "commons"\n')
    with pytest.raises(MappingError, match=r"bad.toml: tags\[0\]: slug: 'Vélo' is not a tag"):
        load_osm_mapping(bad)


def test_rule_index_and_commune_grid_agree_with_plain_scans():
    from importers.geo import commune_at, commune_at_slowly

    mapping = load_osm_mapping()
    objects = [
        *fixture_objects(),
        {"tags": {"shop": "bakery", "operator:type": "cooperative", "amenity": "give_box"}},
        {"tags": {"name": "Repair café", "amenity": "coworking_space"}},
        {"tags": {"leisure": "garden"}}, {"tags": {"name": "Rue"}}]
    for obj in objects:
        first = next((r for r in mapping.rules if r.matches(obj["tags"])), None)
        classified = mapping.classify(obj["tags"])
        assert (classified[0] if classified else None) is first
    for i in range(40):
        for j in range(40):
            lon, lat = 2.70 + i * 0.0175, 50.40 + j * 0.0125
            assert commune_at(lon, lat) == commune_at_slowly(lon, lat)


def test_website_keys_agree_with_the_index_expression(session):
    from sqlalchemy import func, literal

    from app.models.entry import WEBSITE_KEY_PATTERN
    from importers.pipeline import website_key

    for url in ("https://www.Example.org/", "http://example.org//", "https://example.org/a/",
                "https://wwwx.example.org", "HTTPS://WWW.EXAMPLE.ORG/Page"):
        in_sql = db.session.scalar(select(func.regexp_replace(
            func.lower(literal(url)), WEBSITE_KEY_PATTERN, "", "g")))
        assert website_key(url) == in_sql
