"""Input no route can store is refused once for the whole app: NUL characters and JSON
nested too deeply are a 400 naming the field, never a 500.

PostgreSQL text cannot hold U+0000 and Python's JSON parser recurses per level. The
routes are read from the application's URL map, so a new write route is covered here
without being listed.
"""

from __future__ import annotations

import json
import re

import pytest

from app.http.problems import is_machine_path
from app.services.entries import get_entry
from app.services.tokens import create_token
from tests.conftest import make_app
from tests.support.editor import csrf_token, login

WRITE_METHODS = {"POST", "PUT", "PATCH"}
# NUL in each field a form or an API body of this app may read.
POISONED = {"email": "ada\x00@example.org", "password": "pass\x00word", "name": "Nom\x00",
            "kind": "initiative", "summary": "R\x00sum\u00e9", "description": "Une\x00 ligne",
            "title": "Fiche\x00", "held_on": "2025-03-12", "comment": "\x00",
            "target": "\x00", "contact": "\x00", "q": "\x00"}
NAMED = {name for name, value in POISONED.items() if "\x00" in value}


def write_rules() -> list[tuple[str, str]]:
    """(rule, method) of every route that takes a body, from the URL map."""
    app = make_app("postgresql://unused@127.0.0.1:1/unused")
    return sorted((rule.rule, method) for rule in app.url_map.iter_rules()
                  for method in (rule.methods or set()) & WRITE_METHODS)


def url_of(rule: str, values: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        converter, name = match.group(1) or "string", match.group(2)
        return values.get(name) or values[converter]

    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", value, rule)


@pytest.fixture
def values(session) -> dict[str, str]:
    entry = get_entry("la-coroutine")
    return {"uuid": str(entry.id), "int": "1", "string": entry.slug, "path": entry.slug}


def named_field(response) -> str:
    body = response.get_data(as_text=True)
    return next((name for name in NAMED if name in body), "")


def check(response, path: str, what: str) -> list[str]:
    """What is wrong with the answer to a poisoned request (nothing: [])."""
    problems = []
    if response.status_code not in (400, 422):
        problems.append(f"{what}: {response.status_code}")
    elif is_machine_path(path):
        if response.mimetype != "application/problem+json":
            problems.append(f"{what}: {response.mimetype}")
        elif not any(p.get("name") in NAMED
                     for p in response.get_json().get("invalid-params", [])):
            problems.append(f"{what}: no field named in {response.get_json()}")
    elif not named_field(response):
        problems.append(f"{what}: no field named in the page")
    return problems


@pytest.mark.parametrize(("rule", "method"), write_rules())
def test_a_nul_character_is_a_400_naming_the_field_on_every_write_route(
        client, accounts, values, rule, method):
    path = url_of(rule, values)
    token = create_token(accounts["admin"], "nul test")[0]
    failures: list[str] = []
    for who in ("anonymous", "admin"):
        if who == "admin":
            login(client, "admin")
        headers = {"Authorization": f"Bearer {token}"} if who == "admin" else {}
        form = {**POISONED, "csrf_token": csrf_token(client, "/suggest")}
        response = client.open(path, method=method, data=form, headers=headers)
        failures += check(response, path, f"{who}, form")
        response = client.open(path, method=method, json=POISONED,
                               headers={**headers, "If-Match": '"v1"'})
        failures += check(response, path, f"{who}, JSON")
    assert not failures, failures


def test_a_nul_character_in_a_query_parameter_is_a_400_naming_it(client):
    response = client.get("/directory?q=caf%00")
    assert response.status_code == 400
    assert "q" in response.get_data(as_text=True)
    response = client.get("/api/v1/entries?q=caf%00")
    assert response.status_code == 400
    assert response.get_json()["invalid-params"][0]["name"] == "q"


def test_login_with_a_nul_character_shows_the_field(client):
    response = client.post("/login", data={"csrf_token": csrf_token(client, "/login"),
                                           "email": "ada\x00@example.org",
                                           "password": "x"})
    assert response.status_code == 400
    assert "text/html" in response.content_type
    assert "email" in response.get_data(as_text=True)


@pytest.mark.parametrize(("rule", "method"), write_rules())
def test_deeply_nested_json_is_a_400_on_every_write_route(client, values, rule, method):
    path = url_of(rule, values)
    response = client.open(path, method=method, data="[" * 100_000,
                           content_type="application/json")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    if is_machine_path(path):
        assert response.mimetype == "application/problem+json"
        assert "nested" in response.get_json()["detail"]


def test_json_nested_within_the_limit_still_reaches_the_route(client, accounts):
    token = create_token(accounts["editor"], "depth test")[0]
    body = {"kind": "initiative", "name": "Profond", "extra": [[[[["ok"]]]]]}
    response = client.post("/api/v1/entries", json=body,
                           headers={"Authorization": f"Bearer {token}"})
    # The route's own answer: an unknown field is named by the schema, not a depth error.
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["invalid-params"][0]["name"] == "extra"


def test_a_nul_in_a_json_body_is_found_whatever_its_encoding(client, accounts):
    """The body's walk is spared when UTF-8 text holds no \\u0000 escape (the only way a
    parsed string gets NUL there); UTF-16 text is walked, and its NUL refused too."""
    token = create_token(accounts["editor"], "encodings")[0]
    body = {"kind": "initiative", "name": "Nom", "tags": ["a", "b\x00"]}
    for raw in (json.dumps(body).encode(), json.dumps(body).encode("utf-16"),
                json.dumps(body, ensure_ascii=False).encode("utf-32-le")):
        response = client.post("/api/v1/entries", data=raw,
                               headers={"Authorization": f"Bearer {token}",
                                        "Content-Type": "application/json"})
        assert response.status_code == 400, (raw[:20], response.get_json())
        assert response.get_json()["invalid-params"][0]["name"] == "tags.1"
