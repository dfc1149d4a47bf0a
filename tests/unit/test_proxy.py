"""Behind a proxy: ATLAS_TRUSTED_PROXIES proxies' X-Forwarded-* are believed, and only
theirs; without it a forged X-Forwarded-For changes nothing (the login limit counts the
connection's address). The same through real nginx: tests/integration/test_production.py."""

from __future__ import annotations

import pytest
from flask import Flask

from app import create_app
from app.config import ConfigurationError, from_environment, to_sqlalchemy_url
from tests.support.editor import csrf_token

EMAIL = "nobody@example.org"


def _app(database_url: str, **config) -> Flask:
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": to_sqlalchemy_url(database_url),
                       "SECRET_KEY": "test-secret", "LOGIN_RATE_LIMIT": "3 per minute",
                       **config})


def _failed_logins(client, forwarded_for: list[str], peer: str = "192.0.2.1") -> list[int]:
    token = csrf_token(client)
    return [client.post("/login", data={"csrf_token": token, "email": EMAIL, "password": "x"},
                        headers={"X-Forwarded-For": address},
                        environ_base={"REMOTE_ADDR": peer}).status_code
            for address in forwarded_for]


def test_without_trusted_proxies_a_forged_forwarded_for_is_not_believed(database_url):
    app = _app(database_url)
    assert app.config["TRUSTED_PROXIES"] == 0
    # Each attempt claims another address: all come from one peer, and are counted as such.
    codes = _failed_logins(app.test_client(), [f"203.0.113.{i}" for i in range(1, 6)])
    assert codes == [422, 422, 422, 429, 429]


def test_behind_one_trusted_proxy_each_real_client_has_its_own_login_limit(database_url):
    app = _app(database_url, TRUSTED_PROXIES=1)
    client = app.test_client()
    # Both clients reach the app through the proxy (one peer address, 127.0.0.1).
    first = _failed_logins(client, ["198.51.100.7"] * 4, peer="127.0.0.1")
    assert first == [422, 422, 422, 429]
    # A second client behind the same proxy is not locked out by the first one's failures.
    assert _failed_logins(client, ["198.51.100.8"], peer="127.0.0.1") == [422]
    # A client forging a header: the proxy appends the real address, which is believed.
    forged = _failed_logins(client, ["198.51.100.8, 198.51.100.7"], peer="127.0.0.1")
    assert forged == [429]


def test_trusted_proxies_set_the_scheme_and_host_the_proxy_received(database_url):
    app = _app(database_url, TRUSTED_PROXIES=1)
    seen = {}

    @app.get("/_probe")
    def probe():
        from flask import request, url_for

        seen.update(addr=request.remote_addr, url=url_for("web.index", _external=True))
        return "ok"

    app.test_client().get("/_probe", headers={
        "X-Forwarded-For": "198.51.100.9", "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "atlas.example.org"})
    assert seen == {"addr": "198.51.100.9", "url": "https://atlas.example.org/"}


def test_trusted_proxies_must_be_a_count(monkeypatch):
    monkeypatch.setenv("ATLAS_TRUSTED_PROXIES", "nginx")
    with pytest.raises(ConfigurationError, match="ATLAS_TRUSTED_PROXIES"):
        from_environment()
    monkeypatch.setenv("ATLAS_TRUSTED_PROXIES", "2")
    assert from_environment()["TRUSTED_PROXIES"] == 2
