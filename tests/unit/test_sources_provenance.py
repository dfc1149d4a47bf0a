"""Registered sources of three kinds feeding one place, and each field's provenance.

The peers are a local HTTP server replaying answers written by us after their own
documentation or source (tests/data/README.md says which): an Overpass area, a
GoGoCarto elements API, a CSV URL, and an OpenFairDB API for the reader alone.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Entry, EntryFieldSource, ImportRun, Source
from app.services.entries import save_entry
from app.services.revisions import Author
from app.services.threeway import EDITOR, Claim, aggregate
from app.sources.registry import SourceError, add_source, change_source
from app.sources.run import run_source, sample_source
from tests.support.api import fresh_app
from tests.support.replay import SOURCES_DATA as DATA
from tests.support.replay import Replay
from tests.support.serving import serving

AREA = "3.16,50.60,3.18,50.61"


@pytest.fixture(scope="module")
def peer() -> Iterator[Replay]:
    replay = Replay()
    thread = threading.Thread(target=serving(replay.server), daemon=True)
    thread.start()
    try:
        yield replay
    finally:
        replay.server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def peers(peer: Replay) -> Replay:
    peer.answers.clear()
    peer.seen.clear()
    peer.file("/overpass/interpreter", "overpass-ressourcerie.json")
    peer.file("/gogo/api/elements.json", "gogocarto-elements.json")
    peer.file("/files/ressourcerie.csv", "ressourcerie.csv", "text/csv")
    return peer


def _register(peers: Replay) -> dict[str, object]:
    sources = {
        "osm": add_source({"name": "osm-faubourg", "label": "OpenStreetMap", "kind": "overpass",
                           "url": f"{peers.url}/overpass/interpreter", "area": AREA,
                           "priority": 10, "licence": "ODbL-1.0"}),
        "gogo": add_source({"name": "gogo-faubourg", "label": "Carte GoGoCarto",
                            "kind": "gogocarto", "url": f"{peers.url}/gogo", "priority": 5,
                            "entry_kind": "third_place", "credential": "s3cret-token"}),
        "csv": add_source({"name": "reseau-csv", "label": "Réseau des ressourceries",
                           "kind": "csv", "url": f"{peers.url}/files/ressourcerie.csv",
                           "mapping": str(DATA / "ressourcerie.toml"), "priority": 1}),
    }
    db.session.commit()
    return sources


def _the_place() -> Entry:
    entry_ids = set(db.session.scalars(select(Source.entry_id).where(
        Source.origin.in_(["source:osm-faubourg", "source:gogo-faubourg",
                           "source:reseau-csv"]))))
    assert len(entry_ids) == 1, "the three sources feed one entry, not several"
    entry = db.session.get(Entry, entry_ids.pop())
    db.session.refresh(entry)
    return entry


def _holders(entry: Entry) -> dict[str, str | None]:
    return dict(db.session.execute(select(EntryFieldSource.field, EntryFieldSource.origin)
                                   .where(EntryFieldSource.entry_id == entry.id)).all())


def test_three_sources_feed_one_place_by_priority_and_an_editor_wins(session, peers, accounts):
    sources = _register(peers)
    for key in ("osm", "gogo", "csv"):
        run_source(sources[key])
    entry = _the_place()
    holders = _holders(entry)
    # OpenStreetMap (10) gives the name, the street and the website; GoGoCarto (5) the
    # description and the phone nobody else gives; the CSV (1) the e-mail only.
    assert entry.name == "La Ressourcerie du Faubourg"
    assert entry.street == "12 Rue du Faubourg"
    assert holders["street"] == holders["name"] == holders["website"] == "source:osm-faubourg"
    assert entry.description == "Atelier de réparation et boutique solidaire."
    assert holders["description"] == holders["phone"] == "source:gogo-faubourg"
    assert entry.email == "contact@ressourcerie-faubourg.example.org"
    assert holders["email"] == "source:reseau-csv"
    # The GoGoCarto token went as its `token` parameter, within the bounds asked.
    gogo = [s for s in peers.seen if s[1] == "/gogo/api/elements.json"]
    assert gogo and gogo[0][2]["token"] == ["s3cret-token"] and gogo[0][3] is None

    # Raising the CSV above OpenStreetMap hands it the street it disagrees on.
    change_source(sources["csv"], {"priority": 20})
    db.session.commit()
    entry = _the_place()
    assert entry.street == "12, rue du Faubourg"
    assert _holders(entry)["street"] == "source:reseau-csv"
    assert _holders(entry)["name"] == "source:reseau-csv"  # it gives a name too: now its

    # An editor rewrites the description and the street.
    save_entry(entry, {"description": "Texte de l'éditrice.", "street": "Rue du Faubourg 12"},
               author=Author(user=accounts["editor"]), expected_version=entry.version)
    entry = _the_place()
    assert _holders(entry)["description"] is None and _holders(entry)["street"] is None

    # Every source changes its values, then every source runs again, twice, and the
    # priorities move: the editor's text stays.
    answer = json.loads((DATA / "gogocarto-elements.json").read_text())
    answer["data"][0]["description"] = "Nouvelle description de la carte."
    answer["data"][0]["telephone"] = "03 20 99 99 99"
    peers.json("/gogo/api/elements.json", answer)
    peers.answers["/files/ressourcerie.csv"] = ("text/csv", (DATA / "ressourcerie.csv")
                                                .read_bytes().replace(b'"12, rue', b'"14, rue'))
    for _ in range(2):
        for key in ("osm", "gogo", "csv"):
            run_source(sources[key])
    change_source(sources["gogo"], {"priority": 50})
    db.session.commit()
    entry = _the_place()
    assert entry.description == "Texte de l'éditrice."
    assert entry.street == "Rue du Faubourg 12"
    assert entry.phone == "03 20 99 99 99"  # a field no editor touched follows its source
    run = db.session.get(ImportRun, sources["gogo"].last_run_id)
    conflicts = [r for r in run.report if r["kind"] == "conflict"]
    # The change of GoGoCarto's description was reported once (first refresh), kept out.
    assert conflicts == [] or all(c["field"] == "description" for c in conflicts)
    first = db.session.scalars(select(ImportRun).where(
        ImportRun.origin == "source:gogo-faubourg").order_by(ImportRun.id)).all()
    assert any(r["kind"] == "conflict" and r["field"] == "description"
               for run in first for r in run.report)


def test_a_value_changed_behind_provenance_reads_as_an_editors(session, peers):
    """A write that recorded no holder (SQL by hand…) is never overwritten by a source."""
    sources = _register(peers)
    run_source(sources["osm"])
    entry = _the_place()
    db.session.execute(Entry.__table__.update().where(Entry.id == entry.id)
                       .values(opening_hours="Mo 10:00-12:00"))
    db.session.commit()
    peers.json("/overpass/interpreter", {"elements": [{
        **json.loads((DATA / "overpass-ressourcerie.json").read_text())["elements"][0],
        "tags": {**json.loads((DATA / "overpass-ressourcerie.json").read_text())
                 ["elements"][0]["tags"], "opening_hours": "We 10:00-18:00"}}]})
    run_source(sources["osm"])
    entry = _the_place()
    assert entry.opening_hours == "Mo 10:00-12:00"


def test_the_entry_page_and_the_api_show_each_fields_source(session, peers, client):
    sources = _register(peers)
    run_source(sources["osm"])
    run_source(sources["gogo"])
    entry = _the_place()
    page = client.get(f"/entries/{entry.slug}").get_data(as_text=True)
    assert "OpenStreetMap" in page and "Carte GoGoCarto" in page
    # In French by default: "Rue : OpenStreetMap, 2 décembre 2026".
    assert re.search(r"Rue : OpenStreetMap, \d{1,2} \w+ \d{4}", page), page[-3000:]
    assert re.search(r"Description : Carte GoGoCarto, \d{1,2} \w+ \d{4}", page)
    answer = client.get(f"/api/v1/entries/{entry.id}/provenance")
    assert answer.status_code == 200
    fields = {item["field"]: item for item in answer.get_json()["fields"]}
    assert fields["description"]["source"] == "Carte GoGoCarto"
    assert fields["description"]["origin"] == "source:gogo-faubourg"
    assert fields["street"]["source"] == "OpenStreetMap"
    assert fields["street"]["at"]
    # The credential is never shown back.
    assert "s3cret-token" not in page


def test_a_test_reads_a_sample_and_writes_nothing(session, peers):
    peers.file("/ofdb/search", "ofdb-search.json")
    peers.file("/ofdb/entries/7cee99c287094a94acbdcf29ffff2e85", "ofdb-entries.json")
    source = add_source({"name": "kvm", "label": "Karte von morgen", "kind": "openfairdb",
                         "url": f"{peers.url}/ofdb", "area": "3.0,50.6,3.1,50.7",
                         "credential": "Bearer abc"})
    db.session.commit()
    before = db.session.scalar(select(db.func.count()).select_from(Entry))
    report = sample_source(source)
    assert report.records == 1 and report.refused == 0
    assert report.names == ["Jardin partagé des Bois-Blancs"]
    assert "1 records read" in source.last_test
    assert db.session.scalar(select(db.func.count()).select_from(Entry)) == before
    search = next(s for s in peers.seen if s[1] == "/ofdb/search")
    assert search[2]["bbox"] == ["50.6,3.0,50.7,3.1"]  # lat,lng,lat,lng as documented
    assert search[3] == "Bearer abc"
    # The peer's fields land in ours.
    run = run_source(source)
    assert run.counts["created"] == 1
    garden = db.session.scalar(select(Entry).join(Source).where(Source.origin == "source:kvm"))
    assert (garden.postcode, garden.website, garden.phone) == (
        "59000", "https://jardin-bois-blancs.example.org", "+33 3 20 11 22 33")


def test_a_source_that_does_not_answer_is_a_failed_run_with_its_reason(session, peers):
    from app.sources.run import SourceRunFailed

    source = add_source({"name": "gone", "label": "Gone", "kind": "gogocarto",
                         "url": f"{peers.url}/nothing-here"})
    db.session.commit()
    with pytest.raises(SourceRunFailed, match="HTTP 404") as failed:
        run_source(source)
    run = db.session.get(ImportRun, failed.value.run_id)
    assert run.status == "failed" and "HTTP 404" in run.error


@pytest.mark.parametrize(("values", "field"), [
    ({"name": "Bad Name", "kind": "csv", "url": "http://x"}, "name"),
    ({"name": "ok", "kind": "ftp", "url": "http://x"}, "kind"),
    ({"name": "ok", "kind": "csv", "url": "file:///etc/passwd"}, "url"),
    ({"name": "ok", "kind": "csv", "url": "http://x"}, "mapping"),
    ({"name": "ok", "kind": "gogocarto", "url": "http://x", "priority": "high"}, "priority"),
    ({"name": "ok", "kind": "gogocarto", "url": "http://x", "entry_kind": "shop"},
     "entry_kind"),
    ({"name": "ok", "kind": "openfairdb", "url": "http://x", "area": "1,2"}, "area"),
])
def test_a_bad_setting_is_refused_naming_it(session, values, field):
    with pytest.raises(SourceError) as refused:
        add_source(values)
    assert refused.value.field == field
    db.session.rollback()


def test_a_credential_is_stored_sealed_or_as_a_variable_name(session, monkeypatch):
    from app.sources.credentials import reveal

    sealed = add_source({"name": "sealed", "kind": "gogocarto", "url": "http://x",
                         "credential": "my-token"})
    named = add_source({"name": "named", "kind": "gogocarto", "url": "http://x",
                        "credential": "env:GOGO_TOKEN"})
    db.session.commit()
    assert "my-token" not in sealed.credential and sealed.credential.startswith("fernet:")
    assert reveal(sealed.credential) == "my-token"
    assert named.credential == "env:GOGO_TOKEN"
    monkeypatch.setenv("GOGO_TOKEN", "from-env")
    assert reveal(named.credential) == "from-env"


def test_aggregate_on_plain_values():
    """The rule alone: the holder keeps a tie, a higher priority takes the field, an
    editor's field only reports the source's change."""
    current = {"street": "a", "email": "e", "phone": None}
    claims = [Claim("s1", 1, {"street": "a", "phone": "p1"}),
              Claim("s2", 1, {"street": "b", "email": "x"}),
              Claim("s3", 0, None)]
    holders = {"street": "s1", "email": EDITOR}
    out = aggregate(current, claims, holders, ("street", "email", "phone"),
                    refreshing="s2", last={"email": "e0"})
    assert out.changes == {"phone": "p1"}
    assert out.conflicts == [("email", "e", "x")]
    claims[1] = Claim("s2", 2, {"street": "b", "email": "x"})
    out = aggregate(current, claims, holders, ("street", "email", "phone"))
    assert out.changes["street"] == "b" and out.holders["street"] == "s2"
    assert "email" not in out.changes


# -- the admin page, the command, the scheduled job --------------------------------------

def test_the_admin_page_adds_tests_runs_pauses_and_reprioritises(app, session, accounts, peers):
    from tests.support.editor import csrf_token, login, post_form

    assert app.test_client().get("/editor/sources").status_code in (302, 303)
    editor = app.test_client()
    login(editor, "editor")
    assert editor.get("/editor/sources").status_code == 403
    admin = app.test_client()
    login(admin, "admin")
    form = {"name": "gogo-page", "label": "Carte GoGoCarto", "kind": "gogocarto",
            "url": f"{peers.url}/gogo", "priority": "3", "entry_kind": "third_place",
            "credential": "page-secret-token"}
    # No CSRF token, no source.
    assert admin.post("/editor/sources", data=form).status_code == 400
    refused = post_form(admin, "/editor/sources", {**form, "url": "ftp://nowhere"})
    assert refused.status_code == 422 and 'data-field="url"' in refused.get_data(as_text=True)
    assert post_form(admin, "/editor/sources", form).status_code == 303
    page = admin.get("/editor/sources").get_data(as_text=True)
    assert 'data-source="gogo-page"' in page and "page-secret-token" not in page
    assert get_source_("gogo-page").credential.startswith("fernet:")

    token = csrf_token(admin, "/editor/sources")
    tested = admin.post("/editor/sources/gogo-page/test", data={"csrf_token": token},
                        follow_redirects=True).get_data(as_text=True)
    assert "1 records read" in tested and "Ressourcerie du Faubourg" in tested
    assert admin.post("/editor/sources/gogo-page/run", data={}).status_code == 400
    ran = admin.post("/editor/sources/gogo-page/run", data={"csrf_token": token})
    assert ran.status_code == 303 and "/admin/imports/" in ran.headers["Location"]
    assert db.session.scalar(select(Source).where(Source.origin == "source:gogo-page"))
    admin.post("/editor/sources/gogo-page/pause", data={"csrf_token": token, "paused": "1"})
    assert get_source_("gogo-page").paused
    runs = db.session.scalar(select(db.func.count()).select_from(ImportRun))
    paused = admin.post("/editor/sources/gogo-page/run", data={"csrf_token": token})
    assert paused.status_code == 303 and paused.headers["Location"].endswith("/editor/sources")
    assert db.session.scalar(select(db.func.count()).select_from(ImportRun)) == runs
    admin.post("/editor/sources/gogo-page/priority", data={"csrf_token": token,
                                                          "priority": "7"})
    assert get_source_("gogo-page").priority == 7
    # An editor cannot run one either.
    assert editor.post("/editor/sources/gogo-page/run",
                       data={"csrf_token": csrf_token(editor, "/editor/entries/new")}
                       ).status_code == 403


def get_source_(name: str):
    from app.sources.registry import get_source

    source = get_source(name)
    db.session.refresh(source)
    return source


def test_the_command_adds_lists_tests_runs_pauses_and_resumes(app, session, peers):
    runner = app.test_cli_runner()

    def flask(*args: str):
        return runner.invoke(args=["sources", *args], catch_exceptions=False)

    added = flask("add", "csv-cli", "--kind", "csv", "--url",
                  f"{peers.url}/files/ressourcerie.csv", "--mapping",
                  str(DATA / "ressourcerie.toml"), "--priority", "2", "--every", "24",
                  "--credential", "env:CSV_TOKEN")
    assert added.exit_code == 0 and "origin source:csv-cli" in added.output
    bad = flask("add", "csv-bad", "--kind", "csv", "--url", f"{peers.url}/x.csv")
    assert bad.exit_code == 2 and "mapping" in bad.output
    listed = flask("list")
    assert "csv-cli" in listed.output and "env:CSV_TOKEN" in listed.output
    assert flask("test", "csv-cli").exit_code == 1  # the variable is not set
    runner.env = {}
    import os

    os.environ["CSV_TOKEN"] = "Bearer t"
    try:
        tested = flask("test", "csv-cli")
        assert tested.exit_code == 0 and "1 records read" in tested.output
        ran = flask("run", "csv-cli")
        assert ran.exit_code == 0 and "created: 1" in ran.output
        assert peers.seen[-1][3] == "Bearer t"
        assert flask("pause", "csv-cli").exit_code == 0
        assert flask("run", "csv-cli").exit_code == 2  # paused
        assert flask("resume", "csv-cli").exit_code == 0
        assert "priority changed" in flask("set", "csv-cli", "--priority", "4").output
    finally:
        del os.environ["CSV_TOKEN"]


def test_the_sources_job_runs_the_due_sources_only(session, peers):
    from datetime import UTC, datetime, timedelta

    from app.jobs.config import built_in
    from app.jobs.kinds import RUNNERS

    sources = _register(peers)
    sources["osm"].schedule_hours = 24
    sources["gogo"].schedule_hours = 24
    sources["gogo"].paused = True
    sources["csv"].schedule_hours = 24
    sources["csv"].last_run_at = datetime.now(UTC) - timedelta(hours=2)
    db.session.commit()
    job = built_in()["sources"]
    done = RUNNERS[job.kind](job)
    assert done.message.startswith("osm-faubourg: created: 1")
    assert "gogo" not in done.message and "reseau-csv" not in done.message
    assert RUNNERS[job.kind](job).message == "no source is due"


def test_a_geojson_source_reads_features_with_a_csv_mapping(session, peers):
    peers.json("/geo/places.geojson", {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [3.0481, 50.6292]},
         "properties": {"id": "g1", "nom": "Atelier vélo du Vieux-Lille", "adresse": None,
                        "code_postal": "59800", "ville": "Lille", "courriel": None}},
        {"type": "Feature", "geometry": None,
         "properties": {"id": "g2", "nom": "Sans position"}}]})
    source = add_source({"name": "geo", "kind": "geojson",
                         "url": f"{peers.url}/geo/places.geojson",
                         "mapping": str(DATA / "ressourcerie.toml")})
    db.session.commit()
    result = run_source(source)
    assert result.counts["created"] == 1 and result.counts["rejected"] == 1
    place = db.session.scalar(select(Entry).join(Source).where(Source.origin == "source:geo"))
    assert (place.name, place.postcode, place.lonlat) == (
        "Atelier vélo du Vieux-Lille", "59800", (3.0481, 50.6292))


def test_an_atlas_source_runs_through_the_sync_pull(databases, peers):
    """The pull reads pages ahead in a thread with its own session: an app on a database of
    its own, not the rolled-back `session` fixture (one connection for every thread, whose
    savepoints the two threads then undid under each other: it failed by chance)."""
    # Written by us after our own API (app/api/v1.py: /api/v1/changes, /api/v1/tags,
    # the OpenAPI document's licence): another Atlas with nothing new.
    peers.json("/atlas/api/openapi.json", {"info": {"license": {"name": "ODbL-1.0"}}})
    peers.json("/atlas/api/v1/tags", {"items": []})
    peers.json("/atlas/api/v1/changes", {"changes": [], "next_cursor": "c1",
                                         "has_more": False})
    app = fresh_app(databases, "atlas_source")
    with app.app_context():
        source = add_source({"name": "peer-atlas", "label": "Atlas voisin", "kind": "atlas",
                             "url": f"{peers.url}/atlas", "credential": "atlas-token"})
        db.session.commit()
        assert source.origin == "remote:peer-atlas"
        result = run_source(source)
        assert result.run.origin == "remote:peer-atlas" and result.run.status == "finished"
        assert source.last_run_id == result.run.id
        db.session.remove()
        db.engine.dispose()
    changes = [s for s in peers.seen if s[1] == "/atlas/api/v1/changes"]
    assert changes and changes[0][3] == "Bearer atlas-token"


def test_a_field_cleared_before_provenance_stays_cleared():
    """An entry older than provenance whose field an editor emptied: the source that
    gave it before does not fill it again (the three-way rule's answer)."""
    out = aggregate({"phone": None}, [Claim("osm", 0, {"phone": "03 20"})], {}, ("phone",),
                    refreshing="osm", last={"phone": "03 20"})
    assert out.changes == {}
    # Nobody gave it before: the source fills it.
    out = aggregate({"phone": None}, [Claim("osm", 0, {"phone": "03 20"})], {}, ("phone",),
                    refreshing="osm", last={})
    assert out.changes == {"phone": "03 20"}
