"""Admin pages of imports (runs, twins, conflicts) and the merge of two entries."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Entry, Evaluation, Relation, Source
from app.services.entries import SourceRef, create_entry, find_by_source
from app.services.errors import WriteValidationError
from app.services.evaluations import save_evaluation
from app.services.merge import merge_entries
from app.services.revisions import Author
from app.services.users import create_user
from importers.mapping import load_osm_mapping
from importers.osm_overpass import read_overpass
from tests.demo_data import entries as demo_entries
from tests.support.editor import login
from tests.support.importer import entries_of, items_of, run_import

PASSWORD = "a long admin password"


@pytest.fixture
def admin(client, session):
    """An administrator logged in on `client` (and an editor account beside it)."""
    create_user("admin-imports@example.org", PASSWORD, "admin")
    create_user("editor-imports@example.org", PASSWORD, "editor")
    login(client, "admin-imports@example.org", PASSWORD)


def _twin_run():
    mapping = load_osm_mapping()
    demo = next(e for e in demo_entries() if e["slug"] == "mutualab")
    lat = demo["lat"] + 20 / 111_195
    answer = {"elements": [
        {"type": "node", "id": 501, "lat": lat, "lon": demo["lon"],
         "tags": {"amenity": "coworking_space", "name": "MutuaLab coworking"}},
        {"type": "node", "id": 502, "lat": lat, "lon": demo["lon"] + 0.0001,
         "tags": {"amenity": "coworking_space", "name": "Mutualab (annexe)"}}]}
    return mapping, answer, run_import(mapping, read_overpass(answer, mapping))


def test_admin_pages_need_an_administrator(app, session):
    create_user("admin-imports@example.org", PASSWORD, "admin")
    create_user("editor-imports@example.org", PASSWORD, "editor")
    anonymous = app.test_client()
    response = anonymous.get("/admin/imports")
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]
    editor = app.test_client()
    login(editor, "editor-imports@example.org", PASSWORD)
    assert editor.get("/admin/imports").status_code == 403
    administrator = app.test_client()
    login(administrator, "admin-imports@example.org", PASSWORD)
    assert administrator.get("/admin/imports").status_code == 200


def test_runs_twins_and_their_resolution(client, admin):
    mapping, answer, result = _twin_run()
    assert result.counts["duplicates"] == 2
    listing = client.get("/admin/imports").get_data(as_text=True)
    assert f'href="/admin/imports/{result.run.id}"' in listing
    page = client.get(f"/admin/imports/{result.run.id}").get_data(as_text=True)
    assert "MutuaLab coworking" in page and "Mutualab (annexe)" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    twins = [i for i, item in enumerate(result.run.report) if item["kind"] == "duplicate"]

    # No token, no write.
    refused = client.post(f"/admin/imports/{result.run.id}/duplicates/{twins[0]}",
                          data={"decision": "same"})
    assert refused.status_code == 400
    assert find_by_source("osm", "node/501") is None

    same = client.post(f"/admin/imports/{result.run.id}/duplicates/{twins[0]}",
                       data={"decision": "same", "csrf_token": token})
    assert same.status_code == 302
    mutualab = db.session.scalar(select(Entry).where(Entry.slug == "mutualab"))
    assert find_by_source("osm", "node/501") is mutualab
    assert mutualab.name == "Mutualab"                      # the entry is left as it was
    created = client.post(f"/admin/imports/{result.run.id}/duplicates/{twins[1]}",
                          data={"decision": "create", "csrf_token": token})
    assert created.status_code == 302
    assert entries_of("osm")["node/502"].name == "Mutualab (annexe)"
    page = client.get(f"/admin/imports/{result.run.id}").get_data(as_text=True)
    assert page.count("résolu") == 2

    # The next import finds both records: nothing flagged, nothing written.
    again = run_import(mapping, read_overpass(answer, mapping))
    assert again.counts["unchanged"] == 2 and again.counts["duplicates"] == 0


def test_conflicts_are_shown(client, admin):
    from app.services.entries import save_entry

    mapping = load_osm_mapping()
    node = {"type": "node", "id": 601, "lat": 50.7, "lon": 3.2,
            "tags": {"amenity": "tool_library", "name": "Outils partagés",
                     "opening_hours": "Sa 10:00-12:00"}}
    run_import(mapping, read_overpass({"elements": [node]}, mapping))
    entry = entries_of("osm")["node/601"]
    save_entry(entry, {"opening_hours": "Sa 09:00-12:00"}, author=Author(label="editor"),
               expected_version=entry.version, commit=False)
    node["tags"]["opening_hours"] = "Sa 10:00-13:00"
    result = run_import(mapping, read_overpass({"elements": [node]}, mapping))
    assert [c["field"] for c in items_of(result.report, "conflict")] == ["opening_hours"]
    page = client.get(f"/admin/imports/{result.run.id}").get_data(as_text=True)
    assert "Sa 09:00-12:00" in page and "Sa 10:00-13:00" in page


def test_merge_moves_relations_sheets_sources_and_tags(client, admin, session):
    author = Author(label="test")
    demo = {e["slug"]: e for e in demo_entries()}
    target = next(s for s, e in demo.items() if e["kind"] == "commons")
    survivor = create_entry({"kind": "third_place", "name": "Le Lieu", "lon": 3.1, "lat": 50.6,
                             "tags": ["coworking"]}, author=author, commit=False,
                            source=SourceRef("manual", "lieu"))
    other = create_entry({"kind": "third_place", "name": "Le Lieu (doublon)", "lon": 3.1,
                          "lat": 50.6, "tags": ["repair"],
                          "relations": [{"type": "uses", "target": target}]},
                         author=author, commit=False, source=SourceRef("osm", "node/777"))
    pointing = create_entry({"kind": "initiative", "name": "Collectif hébergé",
                             "relations": [{"type": "hosted_by", "target": str(other.id)}]},
                            author=author, commit=False)
    save_evaluation(other, None, {"title": "Fiche", "held_on": date(2024, 1, 1).isoformat()},
                    author=author, expected_version=None, commit=False)

    page = client.get(f"/admin/merge?survivor={survivor.slug}&other={other.slug}"
                      ).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/admin/merge", data={"survivor": survivor.slug,
                                                 "other": other.slug, "csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    assert other.deleted_at is not None
    assert {(r.type, r.target.slug) for r in survivor.relations_out} == {("uses", target)}
    assert [(r.type, r.target_id) for r in pointing.relations_out] == \
        [("hosted_by", survivor.id)]
    assert db.session.scalar(select(Evaluation.entry_id).where(
        Evaluation.title == "Fiche")) == survivor.id
    assert {s.origin for s in db.session.scalars(
        select(Source).where(Source.entry_id == survivor.id))} == {"manual", "osm"}
    assert [t.slug for t in survivor.tags] == ["coworking", "repair"]
    assert db.session.scalar(select(Relation).where(Relation.target_id == other.id)) is None
    with pytest.raises(WriteValidationError):
        merge_entries(survivor, survivor, author=author)
