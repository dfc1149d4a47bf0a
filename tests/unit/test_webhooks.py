"""Signed webhooks delivered to a real HTTP receiver: the signature checks out (computed
here from the documented scheme, not with our own code), a 500 is retried after the
back-off, a subscriber failing N times in a row is paused, and a delivery stored by
a sender process killed (SIGKILL) before sending is sent once by the next run. The admin page shows
the secret once and is for admins only; URLs other than http(s) are refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import multiprocessing
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import create_engine, func, select, text

from app.config import to_sqlalchemy_url
from app.extensions import db
from app.models import JobRun, WebhookAttempt, WebhookDelivery, WebhookSubscriber
from app.sealing import seal
from app.services.entries import get_entry, update_entry
from app.services.revisions import Author
from app.webhooks.job import run
from app.webhooks.sender import backoff
from app.webhooks.subscribers import (
    SECRET_PURPOSE,
    WebhookError,
    add_subscriber,
    signing_secret,
)
from tests.conftest import make_app
from tests.support.editor import csrf_token, login
from tests.support.processes import cli
from tests.support.serving import serving

WRITER = Author(label="webhook test")


class Receiver:
    """A local HTTP server that records each request and answers the scripted statuses
    (then 200)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=serving(self.server), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def hooks_url(databases) -> str:
    return databases.demo("webhooks")


@pytest.fixture
def hooks(hooks_url):
    """An app context on the module's database (real commits); subscribers removed after."""
    app = make_app(hooks_url)
    receivers: list[Receiver] = []
    with app.app_context():
        yield app, receivers
        db.session.rollback()
        db.session.execute(WebhookSubscriber.__table__.delete())
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    for receiver in receivers:
        receiver.close()


def _receiver(hooks, statuses=None) -> Receiver:
    receiver = Receiver(statuses)
    hooks[1].append(receiver)
    return receiver


def _touch(slug: str, summary: str) -> None:
    entry = get_entry(slug)
    update_entry(entry, {"summary": summary}, expected_version=entry.version, author=WRITER)


def _valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The documented check: HMAC-SHA256(secret, timestamp + "." + raw body), hex."""
    timestamp = headers["X-Atlas-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(timestamp)) < 300
    return fresh and hmac.compare_digest(headers["X-Atlas-Signature"], f"sha256={expected}")


def _deliveries(subscriber_id: int) -> list[WebhookDelivery]:
    db.session.expire_all()
    return list(db.session.scalars(select(WebhookDelivery)
                                   .where(WebhookDelivery.subscriber_id == subscriber_id)))


def test_a_change_is_delivered_signed_and_retried_after_a_500(hooks):
    receiver = _receiver(hooks, [500])
    subscriber, secret = add_subscriber(receiver.url, filter_query="kind=third_place")
    stored = db.session.scalar(text("SELECT secret FROM webhook_subscribers WHERE id = :i"),
                               {"i": subscriber.id})
    assert stored.startswith("fernet:") and secret not in stored  # sealed, not in clear
    _touch("la-coroutine", "Un résumé qui change.")
    _touch("mutualab", "Un autre résumé.")

    run()  # stores both changes; the first attempt of the first gets a 500
    deliveries = _deliveries(subscriber.id)
    assert {d.event for d in deliveries} == {"entry.changed"}
    assert len(deliveries) == 2
    first_try = [d for d in deliveries if d.attempts == 1 and d.state == "pending"]
    assert len(first_try) == 1 and first_try[0].last_status == 500
    assert len(receiver.requests) == 2  # the second delivery went through at once

    run(now=datetime.now(UTC) + backoff(1) + timedelta(seconds=1))  # the retry is due
    deliveries = _deliveries(subscriber.id)
    assert {d.state for d in deliveries} == {"delivered"}
    assert len(receiver.requests) == 3
    retried = first_try[0].id
    sent = [(h, b) for h, b in receiver.requests if h["X-Atlas-Delivery"] == str(retried)]
    assert len(sent) == 2 and sent[0][1] == sent[1][1]  # the same body, re-signed
    for headers, body in receiver.requests:
        assert _valid(secret, headers, body)
        assert not _valid(secret + "x", headers, body)
        payload = json.loads(body)
        assert payload["event"] == headers["X-Atlas-Event"] == "entry.changed"
        assert payload["id"] == headers["X-Atlas-Delivery"]
        assert payload["data"]["op"] == "upsert"
        assert payload["data"]["entry"]["slug"] in {"la-coroutine", "mutualab"}
    attempts = db.session.scalars(select(WebhookAttempt).where(
        WebhookAttempt.delivery_id == retried).order_by(WebhookAttempt.id)).all()
    assert [a.status_code for a in attempts] == [500, 200]
    assert db.session.get(WebhookSubscriber, subscriber.id).consecutive_failures == 0


def test_the_subscribers_filter_and_events_choose_what_is_sent(hooks):
    receiver = _receiver(hooks)
    add_subscriber(receiver.url, filter_query="tag=makerspace")
    _touch("mutualab", "Avec un makerspace.")  # tagged makerspace
    _touch("la-coroutine", "Sans makerspace.")  # not tagged makerspace
    run()
    slugs = [json.loads(b)["data"]["entry"]["slug"] for _, b in receiver.requests]
    assert slugs == ["mutualab"]
    with pytest.raises(WebhookError) as refused:
        add_subscriber(receiver.url, filter_query="colour=red")
    assert refused.value.field == "filter"


def test_a_subscriber_failing_n_times_in_a_row_is_paused(hooks):
    receiver = _receiver(hooks, [500, 503, 500, 500])
    subscriber, _ = add_subscriber(receiver.url, pause_after=2)
    _touch("la-coroutine", "Premier.")
    run()
    _touch("mutualab", "Second.")
    run()
    db.session.expire_all()
    paused = db.session.get(WebhookSubscriber, subscriber.id)
    assert not paused.active and "2 failed deliveries in a row" in paused.paused_reason
    assert len(receiver.requests) == 2
    run(now=datetime.now(UTC) + timedelta(hours=1))  # due again, but the subscriber is paused
    assert len(receiver.requests) == 2
    assert {d.state for d in _deliveries(subscriber.id)} == {"pending"}  # kept, not lost


def test_a_secret_this_key_cannot_open_sends_nothing_and_says_why(hooks):
    receiver = _receiver(hooks)
    subscriber, _ = add_subscriber(receiver.url)
    # Sealed under another SECRET_KEY (the key was changed since).
    with make_app(hooks[0].config["SQLALCHEMY_DATABASE_URI"]).app_context() as other:
        other.app.config["SECRET_KEY"] = "another-key"
        foreign = seal("s3cret", SECRET_PURPOSE)
    db.session.get(WebhookSubscriber, subscriber.id).secret = foreign
    db.session.commit()
    _touch("la-coroutine", "Jamais signé.")
    run()
    assert receiver.requests == []
    (delivery,) = _deliveries(subscriber.id)
    assert delivery.state == "pending" and "add the subscriber again" in delivery.last_error
    assert "SECRET_KEY" in delivery.last_error and "s3cret" not in delivery.last_error


def test_the_migration_seals_secrets_kept_in_clear_and_opens_them_back(databases):
    from flask_migrate import downgrade, upgrade

    app = make_app(databases.at_revision("0027", "migration_0028"))
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO webhook_subscribers (url, secret, events, feed_cursor) VALUES "
                "('https://example.org/hook', 'in-clear', '{entry.changed}', '')"))
        upgrade()
        sealed = db.session.scalar(text("SELECT secret FROM webhook_subscribers"))
        assert sealed.startswith("fernet:") and "in-clear" not in sealed
        assert signing_secret(db.session.scalar(select(WebhookSubscriber))) == "in-clear"
        db.session.rollback()
        downgrade(revision="0027")
        assert db.session.scalar(text("SELECT secret FROM webhook_subscribers")) == "in-clear"
        db.session.remove()
        db.engine.dispose()


def test_urls_other_than_http_are_refused(hooks):
    for url in ("ftp://example.org/hook", "file:///etc/passwd", "javascript:alert(1)",
                "http://user:pw@example.org/", "example.org/hook", ""):
        with pytest.raises(WebhookError) as refused:
            add_subscriber(url)
        assert refused.value.field == "url"


def _run_job(url: str) -> None:
    from app.jobs.config import load_jobs
    from app.jobs.runner import run_job

    with make_app(url).app_context():
        run_job(load_jobs()["webhooks"])


def _waiting_on_lock(engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query ILIKE '%webhook_attempts%'")).scalar())


def test_a_delivery_stored_by_a_killed_sender_is_sent_once_after_a_restart(hooks, hooks_url):
    app, _ = hooks
    receiver = _receiver(hooks)
    subscriber, secret = add_subscriber(receiver.url)
    subscriber_id = subscriber.id
    _touch("la-coroutine", "Envoyé malgré la panne.")
    engine = create_engine(to_sqlalchemy_url(hooks_url))
    blocker = engine.connect()
    blocker.begin()
    # The sender may store deliveries, but its first attempt's log row waits for us.
    blocker.execute(text("LOCK TABLE webhook_attempts IN SHARE MODE"))
    # The sender is the job as a timer runs it, in a process of its own (forked: no new
    # interpreter to start), with no connection of ours in it.
    db.session.remove()
    db.engine.dispose()
    sender = multiprocessing.get_context("fork").Process(target=_run_job, args=(hooks_url,))
    sender.start()
    try:
        deadline = time.monotonic() + 60
        while not (_deliveries(subscriber_id) and _waiting_on_lock(engine)):
            assert sender.is_alive(), sender.exitcode
            assert time.monotonic() < deadline, "the sender never stored and waited"
            time.sleep(0.05)
            db.session.rollback()
        sender.kill()  # SIGKILL, between store and send
        sender.join(timeout=30)
    finally:
        if sender.is_alive():
            sender.kill()
        blocker.rollback()
        blocker.close()
        engine.dispose()
    assert receiver.requests == []
    stored = _deliveries(subscriber_id)
    assert [(d.state, d.attempts) for d in stored] == [("pending", 0)]

    restarted = cli(app, "jobs", "run", "webhooks")
    assert restarted.returncode == 0, restarted.stderr
    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    assert headers["X-Atlas-Delivery"] == str(stored[0].id) and _valid(secret, headers, body)
    assert [(d.state, d.attempts) for d in _deliveries(subscriber_id)] == [("delivered", 1)]
    runs = db.session.scalars(select(JobRun).where(JobRun.name == "webhooks")
                              .order_by(JobRun.id)).all()
    assert [r.outcome for r in runs][-2:] == ["failed", "succeeded"]  # the killed one, closed
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)
                             .where(WebhookDelivery.subscriber_id == subscriber_id)) == 1


def test_the_commands_add_list_test_and_pause(hooks):
    app, _ = hooks
    receiver = _receiver(hooks)
    added = cli(app, "webhooks", "add", receiver.url, "--event", "entry.changed")
    assert added.returncode == 0, added.stderr
    secret = added.stdout.rsplit(" ", 1)[-1].strip()
    subscriber_id = added.stdout.split()[1]
    listing = cli(app, "webhooks", "list").stdout
    assert receiver.url in listing and secret not in listing
    tested = cli(app, "webhooks", "test", subscriber_id)
    assert tested.returncode == 0 and "delivered" in tested.stdout
    headers, body = receiver.requests[0]
    assert headers["X-Atlas-Event"] == "ping" and _valid(secret, headers, body)
    assert cli(app, "webhooks", "pause", subscriber_id).returncode == 0
    assert "paused" in cli(app, "webhooks", "list").stdout
    refused = cli(app, "webhooks", "add", "ftp://example.org/")
    assert refused.returncode == 2 and "url" in refused.stderr


def test_the_admin_page_shows_the_secret_once_and_is_for_admins(client, accounts):
    login(client, "editor")
    assert client.get("/editor/webhooks").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client, "/editor/")})
    login(client, "admin")
    token = csrf_token(client, "/editor/webhooks")
    created = client.post("/editor/webhooks", data={
        "csrf_token": token, "url": "https://example.org/hook", "filter": "kind=commons",
        "events": ["entry.changed", "entry.deleted"]})
    assert created.status_code == 201
    page = created.get_data(as_text=True)
    secret = page.split('id="new-secret"')[1].split("<code>")[1].split("</code>")[0]
    assert len(secret) >= 40
    listing = client.get("/editor/webhooks").get_data(as_text=True)
    assert "https://example.org/hook" in listing and secret not in listing
    bad = client.post("/editor/webhooks", data={"csrf_token": token,
                                                "url": "javascript:alert(1)"})
    assert bad.status_code == 400 and "url" in bad.get_data(as_text=True)
    no_token = client.post("/editor/webhooks", data={"url": "https://example.org/x"})
    assert no_token.status_code == 400
