"""The duplicate warning: the importers' twin rule for one typed place, as JSON while it is
typed, and again on submit as a warning (never a refusal)."""

from __future__ import annotations

import math

from sqlalchemy import select

from app.extensions import db
from app.models import Entry, Proposal
from app.services.entries import get_entry
from tests.support.editor import login, post_form


def shifted(lon: float, lat: float, east_m: float) -> tuple[float, float]:
    """A point `east_m` metres east of (lon, lat)."""
    return lon + east_m / (111_320 * math.cos(math.radians(lat))), lat


def test_a_similar_name_10_m_away_is_a_twin(client):
    lon, lat = shifted(*get_entry("la-coroutine").lonlat, 10)
    answer = client.get("/suggest/twins.json", query_string={
        "name": "la coroutine", "lat": f"{lat:.6f}".replace(".", ","), "lon": f"{lon:.6f}"})
    assert answer.status_code == 200
    (twin,) = answer.get_json()["twins"]
    assert (twin["slug"], twin["why"], twin["url"]) == \
        ("la-coroutine", "near", "/entries/la-coroutine")
    assert 8 <= twin["meters"] <= 12
    assert "La Coroutine" in twin["message"] and "10\u00a0m" in twin["message"]


def test_far_away_or_another_name_is_no_twin(client):
    lon, lat = get_entry("la-coroutine").lonlat
    far_lon, far_lat = shifted(lon, lat, 500)
    for name, x, y in (("La Coroutine", far_lon, far_lat), ("Boulangerie Paul", lon, lat)):
        answer = client.get("/suggest/twins.json",
                            query_string={"name": name, "lat": y, "lon": x})
        assert answer.get_json()["twins"] == []


def test_the_same_website_typed_without_scheme_is_a_twin(client):
    entry = db.session.scalar(select(Entry).where(Entry.website.is_not(None),
                                                  Entry.moderation == "published"))
    bare = entry.website.split("://", 1)[1].removeprefix("www.").rstrip("/")
    answer = client.get("/suggest/twins.json", query_string={"name": "x", "website": bare})
    assert [(t["slug"], t["why"]) for t in answer.get_json()["twins"]] == [(entry.slug, "website")]


def test_a_pending_entry_is_never_revealed(client, session):
    lon, lat = get_entry("la-coroutine").lonlat
    post_form(client, "/suggest", {"name": "Jardin secret du square", "kind": "initiative",
                                   "lon": str(lon + 0.01), "lat": str(lat)})
    answer = client.get("/suggest/twins.json", query_string={
        "name": "Jardin secret du square", "lat": lat, "lon": lon + 0.01})
    assert answer.get_json()["twins"] == []


def test_a_suggestion_next_to_a_twin_goes_through_with_a_warning(client, accounts):
    lon, lat = shifted(*get_entry("la-coroutine").lonlat, 10)
    response = post_form(client, "/suggest", {"name": "La Coroutine", "kind": "third_place",
                                              "lon": f"{lon:.6f}", "lat": f"{lat:.6f}"})
    assert response.status_code == 303
    assert "twin=la-coroutine" in response.headers["Location"]
    thanks = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="twins-notice"' in thanks and 'href="/entries/la-coroutine"' in thanks
    proposal = db.session.scalars(select(Proposal).order_by(Proposal.id.desc())).first()
    assert proposal.entry.name == "La Coroutine" and proposal.state == "pending"
    editor = client.application.test_client()
    login(editor, "editor")
    review = editor.get(f"/editor/proposals/{proposal.id}").get_data(as_text=True)
    assert 'id="proposal-twins"' in review and "/entries/la-coroutine" in review
