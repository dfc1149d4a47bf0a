"""Accounts on the web: login and logout, cookies, roles, rate limits, the admin's list."""

from __future__ import annotations

import pytest

from app.services.users import set_active, set_password
from tests.support.editor import ACCOUNTS, PASSWORD, csrf_token, login


def cookie_attributes(response, name: str) -> dict[str, str]:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith(f"{name}="):
            parts = [p.strip() for p in header.split(";")]
            return {p.split("=", 1)[0].lower(): (p.split("=", 1)[1] if "=" in p else "")
                    for p in parts[1:]}
    raise AssertionError(f"no {name} cookie set")


def test_login_sets_a_httponly_samesite_session_and_logout_ends_it(client, accounts):
    assert client.get("/editor/").status_code == 302  # anonymous: to the login page
    response = login(client, "editor")
    assert response.headers["Location"].endswith("/editor/")
    attributes = cookie_attributes(response, "session")
    assert "httponly" in attributes
    assert attributes["samesite"] == "Lax"
    assert "secure" not in attributes  # plain HTTP here: see the next test
    page = client.get("/editor/")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "private, no-store"
    assert ACCOUNTS["editor"].email in page.get_data(as_text=True)  # the logout button's title

    client.post("/logout", data={"csrf_token": csrf_token(client, "/editor/")})
    assert client.get("/editor/").status_code == 302


def test_cookies_are_secure_behind_https(monkeypatch):
    from app.config import from_environment

    monkeypatch.setenv("ATLAS_HTTPS", "1")
    config = from_environment()
    assert config["SESSION_COOKIE_SECURE"] is True and config["REMEMBER_COOKIE_SECURE"] is True
    monkeypatch.delenv("ATLAS_HTTPS")
    assert from_environment()["SESSION_COOKIE_SECURE"] is False


def test_wrong_password_and_unknown_email_say_the_same_and_keep_the_email(client, accounts):
    token = csrf_token(client)
    wrong = client.post("/login", data={"csrf_token": token, "email": ACCOUNTS["editor"].email,
                                        "password": "not the password"})
    unknown = client.post("/login", data={"csrf_token": token, "email": "nobody@example.org",
                                          "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 422
    assert "Adresse ou mot de passe incorrect" in wrong.get_data(as_text=True)
    assert f'value="{ACCOUNTS["editor"].email}"' in wrong.get_data(as_text=True)
    assert client.get("/editor/").status_code == 302


def test_a_deactivated_account_cannot_log_in_and_its_session_ends(app, client, accounts):
    login(client, "contributor")
    assert client.get("/editor/").status_code == 200
    set_active(ACCOUNTS["contributor"].email, False)
    assert client.get("/editor/").status_code == 302
    token = csrf_token(client)
    refused = client.post("/login", data={"csrf_token": token,
                                          "email": ACCOUNTS["contributor"].email,
                                          "password": PASSWORD})
    assert refused.status_code == 422


def test_a_new_password_ends_the_other_sessions(app, client, accounts):
    login(client, "editor")
    set_password(ACCOUNTS["editor"].email, "a brand new password")
    assert client.get("/editor/").status_code == 302
    login(client, "editor", "a brand new password")
    assert client.get("/editor/").status_code == 200


def test_next_goes_back_to_the_page_but_never_to_another_site(client, accounts):
    token = csrf_token(client)
    data = {"csrf_token": token, "email": ACCOUNTS["editor"].email, "password": PASSWORD}
    response = client.post("/login", data={**data, "next": "/editor/proposals"})
    assert response.headers["Location"].endswith("/editor/proposals")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/editor/")})
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        token = csrf_token(client)
        response = client.post("/login", data={**data, "csrf_token": token, "next": evil})
        assert response.headers["Location"].endswith("/editor/"), evil
        client.post("/logout", data={"csrf_token": csrf_token(client, "/editor/")})


def test_failed_logins_are_rate_limited_with_a_clear_message(app, client, accounts, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "3 per minute")
    email = ACCOUNTS["contributor"].email
    token = csrf_token(client)
    codes = [client.post("/login", data={"csrf_token": token, "email": email,
                                         "password": f"guess {i}"}).status_code
             for i in range(3)]
    assert codes == [422, 422, 422]
    blocked = client.post("/login", data={"csrf_token": token, "email": email,
                                          "password": PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "Trop de tentatives" in blocked.get_data(as_text=True)
    # Another account from the same address is not locked out by these failures.
    assert client.post("/login", data={"csrf_token": token, "email": ACCOUNTS["editor"].email,
                                       "password": PASSWORD}).status_code == 303


def test_successful_logins_do_not_count(app, client, accounts, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "2 per minute")
    for _ in range(4):
        login(client, "editor")
        client.post("/logout", data={"csrf_token": csrf_token(client, "/editor/")})


@pytest.mark.parametrize("role, status", [("admin", 200), ("editor", 403),
                                          ("contributor", 403)])
def test_only_admins_see_the_list_of_accounts(client, accounts, role, status):
    login(client, role)
    response = client.get("/editor/users")
    assert response.status_code == status
    if status == 200:
        html = response.get_data(as_text=True)
        for account in ACCOUNTS.values():
            assert account.email in html
        # Neither the hashes nor any part of them (salt, digest) are shown.
        assert "argon2" not in html
        for user in accounts.values():
            salt, digest = user.password_hash.split("$")[-2:]
            assert salt not in html and digest not in html


def test_the_header_offers_login_to_visitors_and_the_editors_area_to_users(client, accounts):
    html = client.get("/").get_data(as_text=True)
    assert "Se connecter" in html and "Suggérer un lieu" in html
    login(client, "contributor")
    html = client.get("/").get_data(as_text=True)
    assert "Espace des éditeurs" in html and "Se déconnecter" in html


def test_users_cli_creates_changes_and_deactivates(app, databases):
    """`flask users` on a database of its own (the CLI commits)."""
    from tests.support.api import fresh_app

    cli_app = fresh_app(databases, "users_cli")
    runner = cli_app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "--email", "zoe@example.org", "--role",
                                 "contributor", "--password-stdin"],
                           input="a long password\n")
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["users", "set-role", "--email", "zoe@example.org", "--role",
                               "editor"]).exit_code == 0
    assert runner.invoke(args=["users", "reset-password", "--email", "zoe@example.org",
                               "--password-stdin"], input="another long one\n").exit_code == 0
    assert runner.invoke(args=["users", "deactivate", "--email", "zoe@example.org"]
                         ).exit_code == 0
    listing = runner.invoke(args=["users", "list"]).output
    assert "zoe@example.org\teditor\tdeactivated" in listing
    client = cli_app.test_client()
    token = csrf_token(client)
    refused = client.post("/login", data={"csrf_token": token, "email": "zoe@example.org",
                                          "password": "another long one"})
    assert refused.status_code == 422
    runner.invoke(args=["users", "deactivate", "--email", "zoe@example.org", "--reactivate"])
    accepted = client.post("/login", data={"csrf_token": token, "email": "zoe@example.org",
                                           "password": "another long one"})
    assert accepted.status_code == 303


def test_passwords_are_hashed_at_argon2s_standard_cost_outside_test_runs(app, database_url):
    """The test apps hash at argon2's least cost (tests/conftest.py make_app); a real
    app at the standard one, and it refuses the test setting."""
    from argon2.profiles import RFC_9106_LOW_MEMORY as standard

    from app import create_app
    from app.config import ConfigurationError, to_sqlalchemy_url
    from app.services.users import hash_password

    config = {"SQLALCHEMY_DATABASE_URI": to_sqlalchemy_url(database_url), "SECRET_KEY": "x"}
    with create_app(config).app_context():
        real = hash_password(PASSWORD)
    cost = f"m={standard.memory_cost},t={standard.time_cost},p={standard.parallelism}"
    assert f"$argon2id$v=19${cost}$" in real
    with app.app_context():
        assert f"${cost}$" not in hash_password(PASSWORD)
    with pytest.raises(ConfigurationError, match="PASSWORD_HASHING"):
        create_app({**config, "PASSWORD_HASHING": "minimal"})
