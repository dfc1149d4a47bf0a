"""Email against a real SMTP server (aiosmtpd on loopback): password reset, invitations,
the admins' accounts page, the editors' digest, the note on a decision, and no server."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app.extensions import db, limiter
from app.mail import links
from app.models import Proposal, User
from app.services.entries import get_entry
from app.services.proposals import propose_edit
from app.services.revisions import Author
from app.services.users import find_user
from tests.support.editor import ACCOUNTS, PASSWORD, csrf_token, login
from tests.support.smtp import SmtpServer, body, links_in


@pytest.fixture(scope="session")
def smtp_server():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def smtp(app, smtp_server, monkeypatch):
    """The app sends through the test server; its inbox starts empty."""
    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", smtp_server.port)
    monkeypatch.setitem(app.config, "MAIL_FROM", "Atlas <atlas@example.org>")
    smtp_server.inbox.clear()
    return smtp_server.inbox


@pytest.fixture
def no_smtp(app, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_HOST", None)


def path_of(url: str) -> str:
    return urlsplit(url).path


def ask_reset(client, email: str):
    return client.post("/password/forgot", data={"csrf_token": csrf_token(client, "/login"),
                                                 "email": email})


def main_part(response) -> str:
    html = response.get_data(as_text=True)
    return html[html.index('<div class="page-narrow form-page">'):html.index("</main>")]


def flashes(html: str) -> str:
    start = html.find('class="flashes"')
    return html[start:html.find("</div>", start)] if start >= 0 else ""


# -- password reset ---------------------------------------------------------------------------


def test_the_login_page_offers_a_reset(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'href="/password/forgot"' in html and "Mot de passe oublié ?" in html


def test_a_reset_link_works_once_and_ends_the_old_sessions(app, client, accounts, smtp):
    email = ACCOUNTS["editor"].email
    other = app.test_client()  # a browser logged in with the old password
    login(other, "editor")
    assert other.get("/editor/").status_code == 200

    asked = ask_reset(client, email)
    assert asked.status_code == 200
    [mail] = smtp.wait_for(email)
    assert mail["Subject"] == "Votre mot de passe sur Atlas des communs"
    assert mail["From"] == "Atlas <atlas@example.org>"
    [link] = links_in(mail)
    assert "60 minutes" in body(mail)

    form = client.get(path_of(link))
    assert form.status_code == 200 and email in form.get_data(as_text=True)
    token = csrf_token(client, path_of(link))
    short = client.post(path_of(link), data={"csrf_token": token, "password": "short",
                                             "confirmation": "short"})
    assert short.status_code == 422 and "Au moins 10 caractères" in short.get_data(as_text=True)
    no_token = client.post(path_of(link), data={"password": "a new password!",
                                                "confirmation": "a new password!"})
    assert no_token.status_code == 400
    differ = client.post(path_of(link), data={"csrf_token": token, "password": "a new password!",
                                              "confirmation": "another one!!"})
    assert differ.status_code == 422
    done = client.post(path_of(link), data={"csrf_token": token, "password": "a new password!",
                                            "confirmation": "a new password!"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/login")
    assert "Votre mot de passe a été changé" in client.get("/login").get_data(as_text=True)

    assert other.get("/editor/").status_code == 302  # the old session ended
    login(client, "editor", "a new password!")
    again = client.get(path_of(link))
    assert again.status_code == 410
    assert 'data-reason="used"' in again.get_data(as_text=True)
    reused = client.post(path_of(link), data={"csrf_token": csrf_token(client, "/editor/"),
                                              "password": "a third password",
                                              "confirmation": "a third password"})
    assert reused.status_code == 410


def test_an_unknown_email_gets_the_same_answer_and_no_mail(client, accounts, smtp):
    known = ask_reset(client, ACCOUNTS["contributor"].email)
    unknown = ask_reset(client, "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    # The same page, but for the email it repeats.
    assert main_part(known).replace(ACCOUNTS["contributor"].email, "X") == \
        main_part(unknown).replace("nobody@example.org", "X")
    assert "Si un compte utilise l’adresse" in main_part(known)
    smtp.wait_for(ACCOUNTS["contributor"].email)
    time.sleep(0.3)
    assert smtp.to("nobody@example.org") == []


def test_a_deactivated_account_gets_no_reset_mail(client, accounts, smtp):
    accounts["contributor"].active = False
    db.session.commit()
    assert ask_reset(client, ACCOUNTS["contributor"].email).status_code == 200
    time.sleep(0.5)
    assert smtp.to(ACCOUNTS["contributor"].email) == []


def test_a_reset_link_expires(app, client, accounts, smtp, monkeypatch):
    monkeypatch.setitem(app.config, "PASSWORD_RESET_MAX_AGE", 600)
    ask_reset(client, ACCOUNTS["editor"].email)
    [link] = links_in(smtp.wait_for(ACCOUNTS["editor"].email)[0])
    made = int(time.time())
    monkeypatch.setattr(links, "_now", lambda: made + 590)
    assert client.get(path_of(link)).status_code == 200
    monkeypatch.setattr(links, "_now", lambda: made + 602)
    late = client.get(path_of(link))
    assert late.status_code == 410 and 'data-reason="expired"' in late.get_data(as_text=True)


def test_a_changed_link_is_refused(client, accounts, smtp):
    ask_reset(client, ACCOUNTS["editor"].email)
    [link] = links_in(smtp.wait_for(ACCOUNTS["editor"].email)[0])
    forged = client.get(path_of(link)[:-3] + "abc")
    assert forged.status_code == 404 and 'data-reason="invalid"' in forged.get_data(as_text=True)


def test_reset_requests_are_rate_limited(app, client, accounts, smtp, monkeypatch):
    monkeypatch.setitem(app.config, "RESET_RATE_LIMIT", "2 per hour")
    limiter.reset()
    codes = [ask_reset(client, f"someone{i}@example.org").status_code for i in range(3)]
    assert codes == [200, 200, 429]
    limiter.reset()


# -- invitations and the accounts page ---------------------------------------------------------


def invite(client, email: str, role: str):
    return client.post("/editor/users/invite", data={
        "csrf_token": csrf_token(client, "/editor/users"), "email": email, "role": role})


def test_an_invitation_leads_to_a_working_account(app, client, accounts, smtp):
    login(client, "admin")
    sent = invite(client, "noor@example.org", "editor")
    assert sent.status_code == 303
    assert "Invitation envoyée à noor@example.org" in client.get("/editor/users").get_data(
        as_text=True)
    [mail] = smtp.wait_for("noor@example.org")
    assert "Admin vous invite" in body(mail) and "éditeur" in body(mail)
    [link] = links_in(mail)

    guest = app.test_client()
    page = guest.get(path_of(link))
    assert page.status_code == 200 and "noor@example.org" in page.get_data(as_text=True)
    token = csrf_token(guest, path_of(link))
    assert guest.post(path_of(link), data={"name": "Noor", "password": "noor's password",
                                           "confirmation": "noor's password"}
                      ).status_code == 400  # no CSRF token
    nameless = guest.post(path_of(link), data={"csrf_token": token, "name": "",
                                               "password": "noor's password",
                                               "confirmation": "noor's password"})
    assert nameless.status_code == 422 and find_user("noor@example.org") is None
    created = guest.post(path_of(link), data={"csrf_token": token, "name": "Noor",
                                              "password": "noor's password",
                                              "confirmation": "noor's password"})
    assert created.status_code == 303
    user = find_user("noor@example.org")
    assert (user.name, user.role, user.active) == ("Noor", "editor", True)
    login(guest, "noor@example.org", "noor's password")
    assert guest.get("/editor/proposals").status_code == 200  # an editor's page
    assert guest.get(path_of(link)).status_code == 410  # once


def test_invitations_are_for_admins_and_for_editor_or_contributor_roles(client, accounts,
                                                                         smtp):
    login(client, "editor")
    token = csrf_token(client, "/editor/")
    refused = client.post("/editor/users/invite", data={
        "csrf_token": token, "email": "x@example.org", "role": "editor"})
    assert refused.status_code == 403
    client.post("/logout", data={"csrf_token": token})
    login(client, "admin")
    for email, role, said in [("x@example.org", "admin", "Invitez comme éditeur ou contributeur"),
                              ("not an address", "editor", "Adresse électronique invalide"),
                              (ACCOUNTS["editor"].email, "editor", "existe déjà")]:
        invite(client, email, role)
        assert said in flashes(client.get("/editor/users").get_data(as_text=True))
    assert smtp.messages == []
    no_token = client.post("/editor/users/invite", data={"email": "y@example.org",
                                                        "role": "editor"})
    assert no_token.status_code == 400


def test_an_expired_invitation_is_refused(app, client, accounts, smtp, monkeypatch):
    login(client, "admin")
    invite(client, "late@example.org", "contributor")
    [link] = links_in(smtp.wait_for("late@example.org")[0])
    made = int(time.time())
    monkeypatch.setattr(links, "_now", lambda: made + app.config["INVITATION_MAX_AGE"] + 5)
    assert app.test_client().get(path_of(link)).status_code == 410


def test_admins_change_roles_and_deactivate_but_one_admin_stays(app, client, accounts):
    editor = accounts["editor"]
    other = app.test_client()
    login(other, "editor")
    login(client, "admin")

    def post(path: str, **data: str):
        return client.post(path, data={"csrf_token": csrf_token(client, "/editor/users"),
                                       **data})

    assert post(f"/editor/users/{editor.id}/role", role="contributor").status_code == 303
    db.session.expire_all()
    assert editor.role == "contributor"
    post(f"/editor/users/{editor.id}/active", active="0")
    db.session.expire_all()
    assert editor.active is False
    assert other.get("/editor/").status_code == 302  # its session ended
    post(f"/editor/users/{editor.id}/active", active="1")
    db.session.expire_all()
    assert editor.active is True

    admin = accounts["admin"]
    post(f"/editor/users/{admin.id}/role", role="editor")
    post(f"/editor/users/{admin.id}/active", active="0")
    db.session.expire_all()
    assert (admin.role, admin.active) == ("admin", True)
    assert "dernier administrateur actif" in client.get("/editor/users").get_data(as_text=True)
    # With a second admin, the first may step down.
    post(f"/editor/users/{editor.id}/role", role="admin")
    post(f"/editor/users/{admin.id}/role", role="editor")
    db.session.expire_all()
    assert admin.role == "editor" and editor.role == "admin"
    assert client.get("/editor/users").status_code == 403  # no longer an admin


def test_the_accounts_page_holds_its_forms(client, accounts):
    login(client, "admin")
    html = client.get("/editor/users").get_data(as_text=True)
    assert 'id="invite-form"' in html
    for user in accounts.values():
        assert f'id="role-{user.id}"' in html and f'id="active-{user.id}"' in html


# -- without a mail server ---------------------------------------------------------------------


def test_without_a_mail_server_pages_work_and_say_where_the_mail_went(app, client, accounts,
                                                                      no_smtp, caplog):
    caplog.set_level(logging.WARNING, logger="app.mail")
    asked = ask_reset(client, ACCOUNTS["editor"].email)
    html = asked.get_data(as_text=True)
    assert asked.status_code == 200 and 'id="no-mail-server"' in html
    assert "/password/reset/" not in html  # never the link to a visitor
    assert "/password/reset/" in caplog.text  # the mail is in the log

    login(client, "admin")
    invite(client, "guest@example.org", "contributor")
    shown = flashes(client.get("/editor/users").get_data(as_text=True))
    assert "Aucun serveur de courrier" in shown and "/invitation/" in shown  # for the admin


def test_an_unreachable_mail_server_is_reported_not_fatal(app, client, accounts, monkeypatch):
    from tests.support.processes import free_port

    monkeypatch.setitem(app.config, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "SMTP_PORT", free_port())  # nobody listens there
    assert ask_reset(client, ACCOUNTS["editor"].email).status_code == 200
    login(client, "admin")
    assert invite(client, "guest@example.org", "contributor").status_code == 303
    shown = flashes(client.get("/editor/users").get_data(as_text=True))
    assert "n’a pas pu être envoyé" in shown and "/invitation/" in shown


# -- decisions ---------------------------------------------------------------------------------


def proposal_by(user: User) -> Proposal:
    entry = get_entry("mutualab")
    return propose_edit(entry, {"city": "Roubaix"}, author=Author(user=user),
                        base_version=entry.version)


def test_the_contributor_hears_of_an_acceptance_and_of_a_refusal_with_its_reason(
        client, accounts, smtp):
    contributor = ACCOUNTS["contributor"].email
    first = proposal_by(accounts["contributor"])
    login(client, "editor")
    token = csrf_token(client, f"/editor/proposals/{first.id}")
    client.post(f"/editor/proposals/{first.id}/reject",
                data={"csrf_token": token, "review_comment": "Mutualab est bien à Lille."})
    [refused] = smtp.wait_for(contributor)
    assert "n’a pas été acceptée" in refused["Subject"]
    assert "Mutualab est bien à Lille." in body(refused)

    second = proposal_by(accounts["contributor"])
    entry = get_entry("mutualab")
    client.post(f"/editor/proposals/{second.id}/accept",
                data={"csrf_token": token, "version": str(entry.version),
                      "review_comment": "Merci !"})
    accepted = smtp.wait_for(contributor, 2)[1]
    assert "a été acceptée" in accepted["Subject"]
    assert "Merci !" in body(accepted)
    assert any(path_of(u) == "/entries/mutualab" for u in links_in(accepted))


def test_a_proposal_published_through_the_entry_form_is_told_too(client, accounts, smtp):
    from werkzeug.datastructures import MultiDict

    from tests.support.editor import form_pairs, replaced

    proposal = proposal_by(accounts["contributor"])
    entry = get_entry("mutualab")
    login(client, "editor")
    page = f"/editor/entries/{entry.id}/edit?proposal={proposal.id}"
    pairs = replaced(form_pairs(client.get(page).get_data(as_text=True), "entry-form"),
                     comment="Publié avec une retouche.")
    assert client.post(page, data=MultiDict(pairs)).status_code == 303
    [mail] = smtp.wait_for(ACCOUNTS["contributor"].email)
    assert "a été acceptée" in mail["Subject"]
    assert "Publié avec une retouche." in body(mail)


def test_a_pending_entry_published_or_rejected_from_its_form_is_told_too(client, accounts,
                                                                           smtp):
    from werkzeug.datastructures import MultiDict

    from app.services.proposals import propose_entry
    from tests.support.editor import form_pairs, replaced

    proposal = propose_entry({"kind": "commons", "name": "Carte des jardins"},
                             author=Author(user=accounts["contributor"]))
    page = f"/editor/entries/{proposal.entry.id}/edit"
    login(client, "editor")
    pairs = replaced(form_pairs(client.get(page).get_data(as_text=True), "entry-form"),
                     moderation="rejected", comment="Hors du territoire.")
    assert client.post(page, data=MultiDict(pairs)).status_code == 303
    [mail] = smtp.wait_for(ACCOUNTS["contributor"].email)
    assert "Carte des jardins" in mail["Subject"] and "n’a pas été acceptée" in mail["Subject"]
    assert "Hors du territoire." in body(mail)


def test_a_pending_entry_published_through_the_api_is_told_too(client, accounts, smtp):
    from app.services.proposals import propose_entry
    from app.services.tokens import create_token

    proposal = propose_entry({"kind": "commons", "name": "Carte des vergers"},
                             author=Author(user=accounts["contributor"]))
    entry = proposal.entry
    token = create_token(accounts["editor"], "script")[0]
    answer = client.patch(f"/api/v1/entries/{entry.id}", json={"moderation": "published"},
                          headers={"Authorization": f"Bearer {token}",
                                   "If-Match": f'"v{entry.version}"'})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    [mail] = smtp.wait_for(ACCOUNTS["contributor"].email)
    assert "Carte des vergers" in mail["Subject"] and "a été acceptée" in mail["Subject"]


def test_an_anonymous_suggester_who_left_an_email_hears_too(client, accounts, smtp):
    from app.services.proposals import SUGGESTION_LABEL, propose_entry

    suggestion = propose_entry({"name": "Café des voisins", "kind": "third_place",
                                "city": "Lille"}, author=Author(label=SUGGESTION_LABEL),
                               contact="voisin@example.org")
    login(client, "editor")
    token = csrf_token(client, f"/editor/proposals/{suggestion.id}")
    client.post(f"/editor/proposals/{suggestion.id}/reject",
                data={"csrf_token": token, "review_comment": "Déjà sur la carte."})
    [mail] = smtp.wait_for("voisin@example.org")
    assert "Déjà sur la carte." in body(mail)


def test_a_decision_without_a_mail_server_still_goes_through(client, accounts, no_smtp):
    proposal = proposal_by(accounts["contributor"])
    login(client, "editor")
    token = csrf_token(client, f"/editor/proposals/{proposal.id}")
    done = client.post(f"/editor/proposals/{proposal.id}/reject",
                       data={"csrf_token": token, "review_comment": "Non."})
    assert done.status_code == 303
    db.session.expire_all()
    assert proposal.state == "rejected"
    assert "Aucun serveur de courrier" in flashes(client.get("/editor/proposals").get_data(
        as_text=True))


# -- the digest (the command a timer runs) -----------------------------------------------------


def test_the_digest_lists_what_waits_and_sends_nothing_when_nothing_does(
        databases, smtp_server, monkeypatch):
    from app.services.proposals import SUGGESTION_LABEL, propose_entry
    from app.services.users import create_user
    from tests.conftest import make_app
    from tests.support.processes import cli, flask

    url = databases.demo("mail_digest")
    monkeypatch.setenv("ATLAS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ATLAS_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("ATLAS_BASE_URL", "https://atlas.example.org")
    digest_app = make_app(url)
    with digest_app.app_context():
        editor = create_user("ed@example.org", PASSWORD, "editor", "Ed")
        create_user("ad@example.org", PASSWORD, "admin", "Ad")
        contributor = create_user("co@example.org", PASSWORD, "contributor", "Co")
        retired = create_user("old@example.org", PASSWORD, "editor", "Old")
        retired.active = False
        db.session.commit()
        smtp_server.inbox.clear()

        db.session.execute(Proposal.__table__.update().where(Proposal.state == "pending")
                           .values(state="rejected", review_comment="old"))
        db.session.commit()
        nothing = cli(digest_app, "mail", "digest")  # in this process; the run below is a timer's
        assert nothing.returncode == 0, nothing.stderr
        assert "Nothing pending" in nothing.stdout
        assert smtp_server.inbox.messages == []

        propose_entry({"name": "Café des voisins", "kind": "third_place", "city": "Lille"},
                      author=Author(label=SUGGESTION_LABEL))
        entry = get_entry("mutualab")
        edit = propose_edit(entry, {"city": "Roubaix"}, author=Author(user=contributor),
                            base_version=entry.version)
        ran = flask("mail", "digest", url=url)
        assert ran.returncode == 0, ran.stderr
        assert "2 pending, digest to 2 editor(s)" in ran.stdout
        ids = db.session.scalars(select(Proposal.id).where(Proposal.state == "pending")).all()
        for address in ("ed@example.org", "ad@example.org"):
            [mail] = smtp_server.inbox.wait_for(address)
            text = body(mail)
            assert mail["Subject"].startswith("2 propositions attendent")
            assert "Café des voisins" in text and "Mutualab" in text
            assert "par Co" in text and "suggestion d’un visiteur" in text
            for pid in ids:
                assert f"https://atlas.example.org/editor/proposals/{pid}" in text
        assert smtp_server.inbox.to("old@example.org") == []
        assert smtp_server.inbox.to("co@example.org") == []
        assert edit.id in ids and editor.active
        db.session.remove()
        db.engine.dispose()


def test_the_digest_needs_a_base_url_for_its_links(databases, smtp_server, monkeypatch):
    from app.services.proposals import SUGGESTION_LABEL, propose_entry
    from tests.conftest import make_app
    from tests.support.processes import cli

    url = databases.demo("mail_digest_nourl")
    monkeypatch.delenv("ATLAS_BASE_URL", raising=False)
    digest_app = make_app(url)
    with digest_app.app_context():
        propose_entry({"name": "Café des voisins", "kind": "third_place", "city": "Lille"},
                      author=Author(label=SUGGESTION_LABEL))
        db.session.remove()
    ran = cli(digest_app, "mail", "digest")
    assert ran.returncode != 0 and "ATLAS_BASE_URL" in ran.stderr
    with digest_app.app_context():
        db.engine.dispose()


# -- settings and addresses --------------------------------------------------------------------


def test_smtp_settings_are_read_and_checked(monkeypatch):
    from app.config import mail_settings

    monkeypatch.setenv("ATLAS_SMTP_HOST", "smtp.example.org")
    monkeypatch.setenv("ATLAS_SMTP_STARTTLS", "1")
    settings = mail_settings()
    assert (settings["SMTP_HOST"], settings["SMTP_PORT"], settings["SMTP_STARTTLS"]) == \
        ("smtp.example.org", 587, True)
    monkeypatch.setenv("ATLAS_SMTP_SSL", "1")
    with pytest.raises(ValueError, match="ATLAS_SMTP_SSL and ATLAS_SMTP_STARTTLS"):
        mail_settings()
    monkeypatch.delenv("ATLAS_SMTP_STARTTLS")
    assert mail_settings()["SMTP_PORT"] == 465
    monkeypatch.setenv("ATLAS_SMTP_PORT", "smtp")
    with pytest.raises(ValueError, match="ATLAS_SMTP_PORT"):
        mail_settings()
    monkeypatch.setenv("ATLAS_SMTP_PORT", "2525")
    monkeypatch.setenv("ATLAS_PASSWORD_RESET_MAX_AGE", "0")
    with pytest.raises(ValueError, match="ATLAS_PASSWORD_RESET_MAX_AGE"):
        mail_settings()


def test_a_forged_address_never_becomes_headers(app, smtp):
    from app.mail.sender import send_mail

    with app.test_request_context():
        refused = send_mail("victim@example.org\r\nBcc: spam@example.org", "Hello", "Hi\n")
        assert refused.status == "failed" and "not a plain email address" in refused.detail
        sent = send_mail("ok@example.org", "Bonjour « " + "très " * 30 + "»", "Corps é\n")
    assert sent.sent
    [mail] = smtp.wait_for("ok@example.org")
    assert mail["Subject"] == "Bonjour « " + "très " * 30 + "»"  # folded, no space lost
    assert body(mail) == "Corps é\n"
    assert smtp.to("spam@example.org") == []


@pytest.mark.parametrize("tls", ["starttls", "ssl"])
def test_mail_leaves_over_tls_with_a_login_and_a_checked_certificate(app, tls, tmp_path,
                                                                      monkeypatch):
    from app.mail.sender import send_mail
    from tests.support.smtp import self_signed

    cert = self_signed(tmp_path)
    with SmtpServer(tls=tls, cert=cert) as server:
        for key, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": server.port,
                           "SMTP_STARTTLS": tls == "starttls", "SMTP_SSL": tls == "ssl",
                           "SMTP_USER": "atlas" if tls == "starttls" else None,
                           "SMTP_PASSWORD": "mail password", "SMTP_CA_FILE": None}.items():
            monkeypatch.setitem(app.config, key, value)
        with app.test_request_context():
            untrusted = send_mail("tls@example.org", "Hello", "Hi\n")
            assert untrusted.status == "failed" and "certificate" in untrusted.detail
            monkeypatch.setitem(app.config, "SMTP_CA_FILE", str(cert[0]))
            assert send_mail("tls@example.org", "Hello", "Hi\n").sent
            if tls == "starttls":
                monkeypatch.setitem(app.config, "SMTP_PASSWORD", "wrong")
                refused = send_mail("tls@example.org", "Hello", "Hi\n")
                assert refused.status == "failed"
        assert len(server.inbox.wait_for("tls@example.org")) == 1
        if tls == "starttls":
            assert server.logins == [("atlas", "mail password"), ("atlas", "wrong")]
