"""Every HTML answer, error pages included, carries the CSP and the framing rules; every
answer carries HSTS when the site is served behind HTTPS (ATLAS_HTTPS=1), none otherwise."""

from __future__ import annotations

import socket

from app import create_app
from app.config import to_sqlalchemy_url
from app.extensions import db
from tests.conftest import make_app
from tests.support.editor import login

HSTS = "max-age=31536000; includeSubDomains"


def assert_page_headers(response, where: str) -> None:
    assert response.mimetype == "text/html", where
    csp = response.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, where
    assert "object-src 'none'" in csp, where
    assert response.headers.get("X-Frame-Options") == "DENY", where
    assert response.headers.get("X-Content-Type-Options") == "nosniff", where
    assert response.headers.get("Referrer-Policy") == "strict-origin-when-cross-origin", where


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_error_pages_carry_the_security_headers(client, accounts):
    cases = [
        (client.get("/no-such-page"), 404),
        (client.get("/entries/no-such-entry"), 404),
        (client.get("/entries?kind=castle"), 400),
        (client.post("/login", data={"email": "a@example.org"}), 400),  # no CSRF token
        (client.post("/entries"), 405),
    ]
    login(client, "editor")
    cases.append((client.get("/editor/trash"), 403))
    for response, status in cases:
        assert response.status_code == status, (response.request.path, response.status_code)
        assert_page_headers(response, f"{response.request.path} {status}")


def test_a_500_and_a_503_page_carry_them_too(database_url):
    app = create_app({"SQLALCHEMY_DATABASE_URI": to_sqlalchemy_url(database_url),
                      "SECRET_KEY": "test-secret", "TESTING": False})

    def broken() -> str:
        raise RuntimeError("a bug")

    app.add_url_rule("/broken", "broken", broken)
    response = app.test_client().get("/broken")
    assert response.status_code == 500
    assert_page_headers(response, "/broken 500")
    with app.app_context():
        db.engine.dispose()

    down = make_app(f"postgresql://atlas:secret@127.0.0.1:{closed_port()}/atlas")
    response = down.test_client().get("/entries")
    assert response.status_code == 503
    assert_page_headers(response, "/entries 503")


def test_hsts_on_every_answer_behind_https(database_url, monkeypatch):
    monkeypatch.setenv("ATLAS_HTTPS", "1")
    app = make_app(database_url)
    client = app.test_client()
    for path in ("/", "/no-such-page", "/api/v1/entries?limit=1", "/api/v1/no-such-thing",
                 "/ogc", "/healthz", "/static/css/atlas.css", "/api/v1/exports/entries.csv"):
        response = client.get(path)
        assert response.headers.get("Strict-Transport-Security") == HSTS, path
    with app.app_context():
        db.engine.dispose()


def test_no_hsts_over_plain_http(client):
    for path in ("/", "/no-such-page", "/api/v1/entries?limit=1", "/healthz"):
        assert "Strict-Transport-Security" not in client.get(path).headers, path
