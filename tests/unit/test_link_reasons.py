"""Why two ids were linked, recorded as a code and its parameters: each code reads in
English (command line, run reports) and French (editors' pages); migration 0024 turns
the English sentences recorded before it into codes; and the twin rule's SIRET: a pulled
entry with the SIRET of a local one is that entry, whatever its name and distance.

`here` and `there` are real instances, each with its own database; `there` serves its
API on loopback (a pull reads it over HTTP).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from app.extensions import db
from app.models import IdentityLink, Source
from app.services.link_reasons import link_reason, reason_english, reason_label
from app.services.twin_rule import likely_twins
from app.sync.client import Remote
from app.sync.pull import Puller
from importers.csv_reader import read_csv
from importers.mapping import load_csv_mapping
from tests.conftest import make_app
from tests.support.importer import HEADER, MAPPING, items_of, run_import, write_csv
from tests.support.sync import Instance

SIRET = "73282932000074"  # a valid one (Luhn key of the SIRET and of its SIREN)

# code, parameters, English, French
READINGS = [
    ("near", {"meters": 12, "name": "Le Café", "similarity": 0.71},
     "12 m from 'Le Café', similar name (similarity 0.71)",
     "à 12 m, avec un nom semblable (« Le Café »)"),
    ("website", {"name": "L'Atelier"}, "same website as \"L'Atelier\"",
     "le même site web que « L'Atelier »"),
    ("siret", {"name": "Le Café", "siret": SIRET}, f"same SIRET ({SIRET}) as 'Le Café'",
     f"le même SIRET ({SIRET}) que « Le Café »"),
    ("known_entry", {"id": "1234"}, "the same entry (known here as 1234)",
     "le même identifiant (1234)"),
    ("known_sheet", {"id": "5678"}, "the same sheet (known here as 5678)",
     "le même identifiant (5678)"),
    ("same_source", {"origin": "osm", "external_id": "node/1"}, "the same source osm node/1",
     "le même enregistrement de la source osm (node/1)"),
    ("same_sheet", {}, "the same entry, title and meeting date",
     "la même fiche, le même titre et la même date de réunion"),
    ("demo_entry", {}, "the demo entry's stable id", "l’identifiant stable de la démo"),
    ("demo_sheet", {}, "the demo sheet's stable id", "l’identifiant stable de la démo"),
    ("free", {"text": "linked by hand"}, "linked by hand", "linked by hand"),
]


@pytest.mark.parametrize(("code", "params", "english", "french"), READINGS,
                         ids=[r[0] for r in READINGS])
def test_each_reason_reads_in_english_and_french(app, code, params, english, french):
    reason = link_reason(code, **params)
    assert reason == {"code": code, **params}
    assert reason_english(reason) == english
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        assert reason_label(reason) == french


def test_every_code_is_read_and_a_bad_reason_is_refused_naming_it(app):
    from app.services.link_reasons import CODES

    assert sorted(CODES) == sorted(r[0] for r in READINGS)
    with pytest.raises(ValueError, match="'nearby'"):
        link_reason("nearby", meters=3)
    with pytest.raises(ValueError, match=r"near.*'name'"):
        link_reason("near", meters=3, similarity=0.5)
    # A code unknown here (a newer instance's) reads as its code, not as an error.
    assert reason_english({"code": "later", "x": 1}) == "later"
    # A link is recorded with a code, never a sentence.
    from app.services.links import link

    with app.app_context(), pytest.raises(TypeError, match="not 'near the café'"):
        link("entry", uuid.uuid4(), uuid.uuid4(), origin="remote:x", reason="near the café")


# -- migration 0024: the English sentences of before, read once -------------------------

OLD = {
    "12 m from 'Le Café', similar name (similarity 0.71)":
        {"code": "near", "meters": 12, "name": "Le Café", "similarity": 0.71},
    "same website as \"L'Atelier\"": {"code": "website", "name": "L'Atelier"},
    "the same entry (known here as 1234)": {"code": "known_entry", "id": "1234"},
    "the same sheet (known here as 5678)": {"code": "known_sheet", "id": "5678"},
    "the same source osm node/1": {"code": "same_source", "origin": "osm",
                                   "external_id": "node/1"},
    "the same entry, title and meeting date": {"code": "same_sheet"},
    "the demo entry's stable id": {"code": "demo_entry"},
    "the demo sheet's stable id": {"code": "demo_sheet"},
    "linked by hand, long ago": {"code": "free", "text": "linked by hand, long ago"},
}


def test_migration_0024_turns_recorded_sentences_into_codes(databases):
    app = make_app(databases.at_revision("0023", "migration_0024"))
    entry_id = uuid.uuid4()
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO entries (id, slug, kind, name) "
                              "VALUES (:id, 'cafe', 'initiative', 'Le Café')"),
                         {"id": entry_id})
            for n, sentence in enumerate(OLD):
                conn.execute(text(
                    "INSERT INTO identity_links (entity_type, alias_id, entity_id, origin, "
                    "reason) VALUES ('entry', :alias, :entry, 'remote:x', :reason)"),
                    {"alias": uuid.UUID(int=n + 1), "entry": entry_id, "reason": sentence})
            conn.execute(text(
                "INSERT INTO sources (entry_id, origin, external_id, linked_reason) VALUES "
                "(:entry, 'csv:lieux', 'L-1', '40 m from ''Le Café'', similar name "
                "(similarity 0.50)'), (:entry, 'csv:lieux', 'L-2', NULL)"), {"entry": entry_id})
        upgrade()
        with db.engine.connect() as conn:
            links = dict(conn.execute(text(
                "SELECT alias_id, reason FROM identity_links")).all())
            sources = dict(conn.execute(text(
                "SELECT external_id, linked_reason FROM sources")).all())
        downgrade(revision="0023")
        with db.engine.connect() as conn:
            back = dict(conn.execute(text("SELECT alias_id, reason FROM identity_links")).all())
        db.engine.dispose()
    assert [links[uuid.UUID(int=n + 1)] for n in range(len(OLD))] == list(OLD.values())
    assert sources == {"L-1": {"code": "near", "meters": 40, "name": "Le Café",
                               "similarity": 0.5}, "L-2": None}
    # Down again: the English sentences (a quote reads as Python's repr of the name).
    assert [back[uuid.UUID(int=n + 1)] for n in range(len(OLD))] == list(OLD)


# -- the SIRET in the twin rule ------------------------------------------------------------

@pytest.fixture(scope="module")
def there(databases) -> Iterator[Instance]:
    instance = Instance(databases, "reasons_there").start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def here(databases) -> Iterator[Instance]:
    yield Instance(databases, "reasons_here")


def test_a_pulled_entry_with_the_same_siret_is_linked_not_created(here, there):
    # About 2 km apart, names nothing alike: only the SIRET says they are one.
    remote_id = there.create({"kind": "initiative", "name": "Association Les Bricoleurs",
                              "lon": 3.0900, "lat": 50.6300, "siret": SIRET})
    local_id = here.create({"kind": "initiative", "name": "Repair café de Fives",
                            "lon": 3.1100, "lat": 50.6420, "siret": "732 829 320 00074"})
    with here.context():
        remote = Remote(there.url, retries=0)
        try:
            result = Puller(remote, "fives").run()
        finally:
            remote.close()
        assert result.counts["created"] == 0 and result.counts["linked"] == 1, result.counts
        found = db.session.scalar(select(IdentityLink).where(
            IdentityLink.alias_id == uuid.UUID(remote_id)))
        assert str(found.entity_id) == local_id
        assert found.reason == {"code": "siret", "siret": SIRET,
                                "name": "Repair café de Fives"}
        # The forms' warning follows the same rule.
        twins = likely_twins("Tout autre nom", 2.35, 48.85, siret=SIRET)
        assert [(t.slug, t.why) for t in twins] == [("repair-cafe-de-fives", "siret")]


def test_an_imported_record_with_the_same_siret_is_a_twin(here, tmp_path):
    """The importer's side of the rule: flagged (not created), or linked with its code."""
    other = "35600000000048"
    toml = tmp_path / "with-siret.toml"
    toml.write_text(MAPPING.read_text().replace('name = "tiers-lieux-test"',
                                                'name = "siret-test"')
                    .replace('website = "Site"', 'website = "Site"\nsiret = "SIRET"'))
    csv_path = write_csv(tmp_path / "lieux.csv", [
        ["S-1", "Initiative", "Atelier vélo du Nord", "1 rue Nationale", "59000", "Lille",
         "50.6000", "3.0500", "", "", "356 000 000 00048"]], header=[*HEADER, "SIRET"])
    local_id = here.create({"kind": "initiative", "name": "Café des Bricoleurs",
                            "lon": 3.0700, "lat": 50.6200, "siret": other})
    mapping = load_csv_mapping(toml)
    with here.context():
        flagged = run_import(mapping, read_csv(csv_path, mapping))
        assert flagged.counts["created"] == 0
        [twin] = items_of(flagged.report, "duplicate")
        assert f"same SIRET ({other}) as 'Café des Bricoleurs'" in twin["reason"]
        run_import(mapping, read_csv(csv_path, mapping), link_twins=True)
        source = db.session.scalar(select(Source).where(Source.origin == "csv:siret-test"))
        assert str(source.entry_id) == local_id
        assert source.linked_reason == {"code": "siret", "siret": other,
                                        "name": "Café des Bricoleurs"}


def test_two_records_of_one_import_with_the_same_siret_make_one_entry(here, tmp_path):
    """Twins within the batch follow the same rule: the second record with a SIRET
    already seen in this import is flagged, however far and unlike the first."""
    toml = tmp_path / "batch-siret.toml"
    toml.write_text(MAPPING.read_text().replace('name = "tiers-lieux-test"',
                                                'name = "batch-siret-test"')
                    .replace('website = "Site"', 'website = "Site"\nsiret = "SIRET"'))
    csv_path = write_csv(tmp_path / "lieux.csv", [
        ["B-1", "Initiative", "Atelier vélo du Nord", "1 rue Nationale", "59000", "Lille",
         "50.6000", "3.0500", "", "", "519 000 103 00001"],
        ["B-2", "Initiative", "Les Bricoleurs de Roubaix", "9 rue Pierre", "59100",
         "Roubaix", "50.6900", "3.1800", "", "", "51900010300001"]], header=[*HEADER, "SIRET"])
    mapping = load_csv_mapping(toml)
    with here.context():
        run = run_import(mapping, read_csv(csv_path, mapping))
        assert run.counts["created"] == 1, run.counts
        [twin] = items_of(run.report, "duplicate")
        assert twin["external_id"] == "B-2"
        assert "same SIRET (51900010300001) as" in twin["reason"]
        assert "of this import" in twin["reason"]
