"""Writes through the API (/api/v1/entries…): bearer tokens, roles, If-Match, problems.

The contract is /tmp/write-api-contract.md's (shared with the sync client): strong
per-entry ETags "v<version>", 428 without If-Match, 412 when stale, 422 with dotted
invalid-params, X-Atlas-Source provenance, contributor writes pending.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import Counter

import pytest
import requests
from sqlalchemy import func, select

from app.extensions import db
from app.models import Entry, Proposal, Revision, Source
from app.services.entries import get_entry, snapshot
from app.services.revisions import revisions_of
from app.services.tokens import create_token, revoke_token
from tests.conftest import LiveServer

NEW = {"kind": "initiative", "name": "Disco Soupe de Fives", "city": "Lille",
       "lon": 3.0911, "lat": 50.6284, "tags": ["repair"],
       "relations": [{"type": "hosted_by", "target": "mutualab"}],
       "website": "https://discosoupe.example"}


@pytest.fixture
def tokens(accounts) -> dict[str, str]:
    return {role: create_token(user, f"{role} script")[0] for role, user in accounts.items()}


def auth(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def revision_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Revision))


# -- reading: the strong ETag ------------------------------------------------------------------

def test_an_entry_answers_a_strong_etag_of_its_version(client):
    entry = get_entry("mutualab")
    response = client.get("/api/v1/entries/mutualab")
    assert response.headers["ETag"] == f'"v{entry.version}"'
    assert response.get_json()["version"] == entry.version
    for tag in (f'"v{entry.version}"', f'W/"v{entry.version}"'):
        assert client.get("/api/v1/entries/mutualab",
                          headers={"If-None-Match": tag}).status_code == 304
    assert client.get("/api/v1/entries/mutualab",
                      headers={"If-None-Match": '"v999"'}).status_code == 200
    # Lists keep their weak, data-state validators.
    assert client.get("/api/v1/entries?limit=1").headers["ETag"].startswith('W/"')


# -- authentication and roles ----------------------------------------------------------------------

def test_without_a_usable_token_writes_get_401_with_a_bearer_challenge(client, tokens, accounts):
    before = revision_count()
    cases = [({}, None), ({"Authorization": "Basic dXNlcjpwYXNz"}, None),
             (auth("atl_not-a-token"), "invalid_token"), (auth("nothing"), "invalid_token")]
    for headers, error in cases:
        for method, url in (("POST", "/api/v1/entries"), ("PUT", "/api/v1/entries/mutualab"),
                            ("PATCH", "/api/v1/entries/mutualab"),
                            ("DELETE", "/api/v1/entries/mutualab")):
            response = client.open(url, method=method, json=NEW, headers=headers)
            assert response.status_code == 401, (method, headers)
            assert response.mimetype == "application/problem+json"
            challenge = response.headers["WWW-Authenticate"]
            assert challenge.startswith("Bearer")
            assert (f'error="{error}"' in challenge) if error else "error=" not in challenge
    revoke_token(next(t.id for t in accounts["editor"].tokens))
    assert client.post("/api/v1/entries", json=NEW,
                       headers=auth(tokens["editor"])).status_code == 401
    assert revision_count() == before


def test_a_session_cookie_does_not_authorise_api_writes(client, accounts):
    from tests.support.editor import login

    login(client, "admin")
    assert client.post("/api/v1/entries", json=NEW).status_code == 401


def test_a_token_records_its_last_use_to_the_minute_without_a_write_per_request(
        client, tokens, session):
    """A script's requests read their token; its last use is written when it is a minute
    old, not at each request (was: an UPDATE and a commit per request, and parallel
    requests of one token waiting for each other on its row)."""
    from datetime import UTC, datetime, timedelta

    from app.models import ApiToken
    from tests.support.statements import statements_sent

    def last_used() -> datetime | None:
        session.expire_all()
        return session.scalar(select(ApiToken.last_used_at).where(ApiToken.name == "editor script"))

    headers = auth(tokens["editor"], **{"If-Match": '"v1"'})
    assert last_used() is None
    assert client.delete("/api/v1/entries/mutualab", headers=headers).status_code == 412
    first = last_used()
    assert first is not None  # a token never used is marked at its first use
    with statements_sent(db.engine) as sent:
        for _ in range(3):
            assert client.delete("/api/v1/entries/mutualab", headers=headers).status_code == 412
    assert last_used() == first
    assert not [s for s in sent if "UPDATE api_tokens" in s.sql]
    # A minute later, the next request moves it.
    session.execute(db.update(ApiToken).where(ApiToken.name == "editor script")
                    .values(last_used_at=first - timedelta(seconds=61)))
    assert client.delete("/api/v1/entries/mutualab", headers=headers).status_code == 412
    assert last_used() > first - timedelta(seconds=1)
    assert last_used() <= datetime.now(UTC)


def test_contributors_may_not_delete(client, tokens):
    entry = get_entry("mutualab")
    response = client.delete("/api/v1/entries/mutualab",
                             headers=auth(tokens["contributor"],
                                          **{"If-Match": f'"v{entry.version}"'}))
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert get_entry("mutualab").deleted_at is None


# -- creating ------------------------------------------------------------------------------------

def test_an_editor_creates_an_entry_201_with_location_and_etag(client, tokens, accounts):
    response = client.post("/api/v1/entries", json=NEW, headers=auth(tokens["editor"]))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["ETag"] == '"v1"'
    assert response.headers["Location"].endswith(f"/api/v1/entries/{body['id']}")
    assert {k: body[k] for k in ("kind", "name", "city", "tags")} == {
        "kind": "initiative", "name": "Disco Soupe de Fives", "city": "Lille",
        "tags": ["repair"]}
    entry = get_entry(body["id"])
    assert [(r.type, r.target.slug) for r in entry.relations_out] == [("hosted_by", "mutualab")]
    [revision] = revisions_of("entry", entry.id)
    assert revision.author_id == accounts["editor"].id
    assert client.get(response.headers["Location"].replace("http://localhost", "")).get_json() \
        == body


def test_a_given_id_is_kept_and_an_existing_one_is_a_409(client, tokens):
    wanted = uuid.uuid4()
    response = client.post("/api/v1/entries", json={**NEW, "id": str(wanted)},
                           headers=auth(tokens["editor"]))
    assert response.status_code == 201 and response.get_json()["id"] == str(wanted)
    again = client.post("/api/v1/entries", json={**NEW, "id": str(wanted)},
                        headers=auth(tokens["editor"]))
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    bad = client.post("/api/v1/entries", json={**NEW, "id": "not-a-uuid"},
                      headers=auth(tokens["editor"]))
    assert bad.status_code == 422
    assert bad.get_json()["invalid-params"] == [{"name": "id", "reason": "Not a valid UUID."}]


def test_validation_errors_are_422_with_dotted_invalid_params(client, tokens):
    before = revision_count()
    response = client.post("/api/v1/entries", json={
        **NEW, "lat": 95, "email": "no-at-sign",
        "relations": [{"type": "uses", "target": "nowhere-at-all"}]},
        headers=auth(tokens["editor"]))
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    names = {p["name"] for p in response.get_json()["invalid-params"]}
    assert names == {"lat", "email"}
    response = client.post("/api/v1/entries", json={
        **NEW, "relations": [{"type": "uses", "target": "nowhere-at-all"}]},
        headers=auth(tokens["editor"]))
    assert response.get_json()["invalid-params"] == [
        {"name": "relations.0.target", "reason": "No entry 'nowhere-at-all'.",
         "code": "no_such_entry", "params": {"value": "nowhere-at-all"}}]
    not_json = client.post("/api/v1/entries", data="kind=commons",
                           headers=auth(tokens["editor"]))
    assert not_json.status_code == 422
    assert revision_count() == before


def test_identifiers_and_opening_hours_are_checked_and_named(client, tokens):
    before = revision_count()
    response = client.post("/api/v1/entries", json={
        **NEW, "siret": "13002526500014", "opening_hours": "Mo-Fr 9h-18h"},
        headers=auth(tokens["editor"]))
    assert response.status_code == 422
    params = {p["name"]: p for p in response.get_json()["invalid-params"]}
    assert set(params) == {"siret", "opening_hours"}
    assert params["siret"]["code"] == "siret_key"
    assert params["siret"]["reason"].startswith("SIRET: invalid check digit")
    assert params["opening_hours"]["code"] == "opening_hours_syntax"
    assert params["opening_hours"]["params"]["column"] == 7
    assert "expected" in params["opening_hours"]["reason"]  # the parser's own words
    assert revision_count() == before
    response = client.post("/api/v1/entries", json={
        **NEW, "siret": "130 025 265 00013", "wikidata": "Q648", "osm_object": "way/4",
        "opening_hours": "Mo-Fr 09:00-12:00,14:00-18:00; PH off"},
        headers=auth(tokens["editor"]))
    assert response.status_code == 201
    record = client.get(f"/api/v1/entries/{response.get_json()['id']}").get_json()
    assert (record["siret"], record["wikidata"], record["osm_object"], record["rna"]) == (
        "13002526500013", "Q648", "way/4", None)


def test_x_atlas_source_records_the_provenance(client, tokens):
    response = client.post("/api/v1/entries", json=NEW, headers=auth(
        tokens["editor"], **{"X-Atlas-Source": "remote:lille 6f1c-42"}))
    assert response.status_code == 201
    source = db.session.scalar(select(Source).where(Source.origin == "remote:lille"))
    assert (source.external_id, str(source.entry_id)) == ("6f1c-42", response.get_json()["id"])
    bad = client.post("/api/v1/entries", json=NEW,
                      headers=auth(tokens["editor"], **{"X-Atlas-Source": "lonely"}))
    assert bad.status_code == 400
    assert bad.get_json()["invalid-params"][0]["name"] == "X-Atlas-Source"


# -- updating ------------------------------------------------------------------------------------

def test_updates_need_if_match_428_then_412_when_stale(client, tokens):
    entry = get_entry("mutualab")
    before = snapshot(entry), revision_count()
    missing = client.patch("/api/v1/entries/mutualab", json={"city": "Roubaix"},
                           headers=auth(tokens["editor"]))
    assert missing.status_code == 428
    assert f'"v{entry.version}"' in missing.get_json()["detail"]
    stale = client.patch("/api/v1/entries/mutualab", json={"city": "Roubaix"},
                         headers=auth(tokens["editor"], **{"If-Match": '"v1"'}))
    assert stale.status_code == 412
    assert stale.headers["ETag"] == f'"v{entry.version}"'
    weak = client.patch("/api/v1/entries/mutualab", json={"city": "Roubaix"},
                        headers=auth(tokens["editor"], **{"If-Match": f'W/"v{entry.version}"'}))
    assert weak.status_code == 412  # If-Match compares strongly
    db.session.expire_all()
    assert (snapshot(get_entry("mutualab")), revision_count()) == before


def test_patch_changes_only_what_it_is_given(client, tokens):
    entry = get_entry("mutualab")
    before, version = snapshot(entry), entry.version
    etag = client.get("/api/v1/entries/mutualab").headers["ETag"]
    response = client.patch(f"/api/v1/entries/{entry.id}", json={"city": "Lille-Centre"},
                            headers=auth(tokens["editor"], **{"If-Match": etag}))
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"v{version + 1}"'
    db.session.expire_all()
    after = snapshot(get_entry("mutualab"))
    # And the INSEE code derived from the address, which follows it (app/communes/fill.py):
    # "Lille-Centre" is no commune, so the code Lille gave is left empty.
    assert {k for k in after if after[k] != before[k]} == {"city", "insee_code"}
    assert (before["insee_code"], after["insee_code"]) == ("59350", None)


def test_put_replaces_the_whole_entry_but_keeps_slug_and_moderation(client, tokens):
    entry = get_entry("mutualab")
    version = entry.version
    response = client.put("/api/v1/entries/mutualab",
                          json={"kind": "third_place", "name": "Mutualab", "lon": 3.06,
                                "lat": 50.631},
                          headers=auth(tokens["editor"], **{"If-Match": f'"v{version}"'}))
    assert response.status_code == 200, response.get_json()
    db.session.expire_all()
    entry = get_entry("mutualab")
    assert (entry.slug, entry.moderation, entry.version) == ("mutualab", "published",
                                                              version + 1)
    assert (entry.website, entry.summary, entry.tags, entry.relations_out) == (None, None, [],
                                                                               [])


def test_put_if_none_match_star_creates_at_a_uuid_once(client, tokens):
    wanted = uuid.uuid4()
    headers = auth(tokens["editor"], **{"If-None-Match": "*"})
    created = client.put(f"/api/v1/entries/{wanted}", json=NEW, headers=headers)
    assert created.status_code == 201 and created.get_json()["id"] == str(wanted)
    assert created.headers["ETag"] == '"v1"'
    again = client.put(f"/api/v1/entries/{wanted}", json=NEW, headers=headers)
    assert again.status_code == 412
    unknown = client.put(f"/api/v1/entries/{uuid.uuid4()}", json=NEW,
                         headers=auth(tokens["editor"], **{"If-Match": '"v1"'}))
    assert unknown.status_code == 404


# -- deleting ------------------------------------------------------------------------------------

def test_delete_needs_if_match_and_leaves_a_tombstone(client, tokens):
    entry = get_entry("mutualab")
    assert client.delete("/api/v1/entries/mutualab",
                         headers=auth(tokens["editor"])).status_code == 428
    response = client.delete("/api/v1/entries/mutualab", headers=auth(
        tokens["editor"], **{"If-Match": f'"v{entry.version}"'}))
    assert response.status_code == 204
    assert client.get("/api/v1/entries/mutualab").status_code == 410
    db.session.expire_all()
    assert get_entry("mutualab", include_deleted=True).deleted_at is not None
    assert revisions_of("entry", entry.id)[-1].action == "delete"
    assert client.delete("/api/v1/entries/mutualab", headers=auth(
        tokens["editor"], **{"If-Match": "*"})).status_code == 410


# -- contributors ----------------------------------------------------------------------------------

def test_a_contributors_writes_wait_for_the_editors(client, tokens, accounts):
    created = client.post("/api/v1/entries", json=NEW, headers=auth(tokens["contributor"]))
    assert created.status_code == 201
    entry = get_entry(created.get_json()["id"])
    assert entry.moderation == "pending"
    assert client.get(f"/api/v1/entries/{entry.id}").status_code == 404
    assert db.session.scalar(select(Proposal).where(Proposal.entry_id == entry.id)).action \
        == "create"

    mutualab = get_entry("mutualab")
    before = snapshot(mutualab)
    proposed = client.patch("/api/v1/entries/mutualab", json={"city": "Roubaix"},
                            headers=auth(tokens["contributor"],
                                         **{"If-Match": f'"v{mutualab.version}"'}))
    assert proposed.status_code == 202
    body = proposed.get_json()
    assert body["state"] == "pending" and body["entry_id"] == str(mutualab.id)
    db.session.expire_all()
    assert snapshot(get_entry("mutualab")) == before
    proposal = db.session.get(Proposal, body["proposal"])
    assert proposal.data["city"] == "Roubaix" and proposal.author_id == accounts[
        "contributor"].id


# -- the OpenAPI document ----------------------------------------------------------------------

def test_the_writes_are_documented_with_the_bearer_scheme(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"]}
    paths = spec["paths"]
    assert "post" in paths["/api/v1/entries"] and "get" in paths["/api/v1/entries"]
    item = paths["/api/v1/entries/{ref}"]
    assert {"get", "put", "patch", "delete"} <= set(item)
    for method, codes in (("put", {"200", "201", "202", "401", "403", "412", "422", "428"}),
                          ("patch", {"200", "202", "412", "422", "428"}),
                          ("delete", {"204", "401", "403", "412", "428"})):
        operation = item[method]
        assert codes <= set(operation["responses"]), method
        assert operation["security"] == [{"bearerAuth": []}]
        assert any(p["name"] == "If-Match" and p["required"] for p in operation["parameters"])
    body = paths["/api/v1/entries"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"] == "#/components/schemas/EntryInput"
    assert "relations" in spec["components"]["schemas"]["EntryInput"]["properties"]


# -- 20 writers, one ETag ------------------------------------------------------------------------

def test_twenty_threads_with_the_same_if_match_one_wins_the_others_get_412(databases):
    from tests.support.api import fresh_app

    app = fresh_app(databases, "if_match")
    with app.app_context():
        from app.services.users import create_user

        user = create_user("robot@example.org", "a long robot password", "editor")
        token, _ = create_token(user, "sync")
        entry = get_entry("mutualab")
        entry_id = entry.id
        revisions_before = len(revisions_of("entry", entry_id))
        db.session.remove()

    with LiveServer(app) as server:
        url = f"{server.url}/api/v1/entries/{entry_id}"
        first = requests.get(url, timeout=10)  # compressed: the ETag stays the version
        assert first.headers["Content-Encoding"] in ("gzip", "br")
        etag = first.headers["ETag"]
        assert re.fullmatch(r'"v\d+"', etag), etag
        barrier = threading.Barrier(20)
        results: list[tuple[int, str]] = []

        def write(n: int) -> None:
            session = requests.Session()
            barrier.wait()
            response = session.patch(url, json={"summary": f"Écrit par le fil {n}"},
                                     headers={"Authorization": f"Bearer {token}",
                                              "If-Match": etag}, timeout=60)
            results.append((response.status_code, f"Écrit par le fil {n}"))

        threads = [threading.Thread(target=write, args=(n,)) for n in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        final = requests.get(url, timeout=10)

    counts = Counter(code for code, _ in results)
    assert counts == {200: 1, 412: 19}, counts
    winner = next(text for code, text in results if code == 200)
    assert final.json()["summary"] == winner
    with app.app_context():
        assert len(revisions_of("entry", entry_id)) == revisions_before + 1
        assert db.session.get(Entry, entry_id).version == int(etag.strip('"v')) + 1
        db.session.remove()
        db.engine.dispose()
