"""Sessions end on the server: a copied session cookie is worthless after logout,
deactivation or a new password, and logging out on one device leaves the others be."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import UserSession
from app.services.users import set_active, set_password
from tests.support.editor import ACCOUNTS, csrf_token, login


def session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None, "no session cookie"
    return cookie.value


def replay(app, cookie: str):
    """Another browser (an attacker's) sending a copied cookie: GET the editors' area."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other.get("/editor/")


def logout(client):
    return client.post("/logout", data={"csrf_token": csrf_token(client, "/editor/")})


def test_a_cookie_copied_before_logout_is_refused_after_it(app, client, accounts):
    login(client, "editor")
    copied = session_cookie(client)
    assert replay(app, copied).status_code == 200  # the copy works while the session lives
    assert logout(client).status_code == 303
    response = replay(app, copied)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_deactivation_ends_sessions_for_good_even_after_reactivation(app, client, accounts):
    login(client, "contributor")
    copied = session_cookie(client)
    assert replay(app, copied).status_code == 200
    set_active(ACCOUNTS["contributor"].email, False)
    assert replay(app, copied).status_code == 302
    set_active(ACCOUNTS["contributor"].email, True)
    assert replay(app, copied).status_code == 302
    assert client.get("/editor/").status_code == 302
    login(client, "contributor")  # a new login works again
    assert client.get("/editor/").status_code == 200


def test_a_new_password_ends_every_session(app, client, accounts):
    login(client, "editor")
    copied = session_cookie(client)
    set_password(ACCOUNTS["editor"].email, "a brand new password")
    assert replay(app, copied).status_code == 302


def test_logging_out_on_one_device_keeps_the_others(app, client, accounts):
    phone = app.test_client()
    login(client, "editor")
    login(phone, "editor")
    assert logout(client).status_code == 303
    assert client.get("/editor/").status_code == 302
    assert phone.get("/editor/").status_code == 200


def test_sessions_are_stored_hashed_and_logout_deletes_its_own(app, client, accounts):
    user = accounts["editor"]

    def count() -> int:
        return db.session.scalar(select(func.count()).select_from(UserSession)
                                 .where(UserSession.user_id == user.id))

    login(client, "editor")
    assert count() == 1
    stored = db.session.scalar(select(UserSession).where(UserSession.user_id == user.id))
    assert len(stored.token_hash) == 64
    assert stored.token_hash not in session_cookie(client)
    logout(client)
    assert count() == 0


def test_csrf_is_still_checked_after_login(app, client, accounts):
    login(client, "editor")
    refused = client.post("/logout", data={})
    assert refused.status_code == 400
    assert client.get("/editor/").status_code == 200  # still logged in
    assert logout(client).status_code == 303
