"""The administrators' page of webhooks: subscribers (add, pause, resume, test) and the
delivery log. Admins only (role_required), every change a POST with the form's CSRF
token. A new subscriber's secret is shown once, on the answer to its creation (never
in a redirect's flash, which travels in the session cookie), and never again."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..auth.roles import role_required
from ..models.webhook import WEBHOOK_EVENTS
from ..webhooks.subscribers import (
    WebhookError,
    add_subscriber,
    get_subscriber,
    list_subscribers,
    pause,
    recent_deliveries,
    resume,
)
from ..webhooks.testing import ping
from . import bp

LOG_SIZE = 50


def _page(status: int = 200, **extra: object) -> tuple[str, int]:
    return render_template("editor/webhooks.html", subscribers=list_subscribers(),
                           deliveries=recent_deliveries(limit=LOG_SIZE),
                           events=WEBHOOK_EVENTS, **extra), status


def _back() -> Response:
    return redirect(url_for("editor.webhooks"), 303)


@bp.get("/editor/webhooks")
@role_required("admin")
def webhooks() -> tuple[str, int]:
    return _page()


@bp.post("/editor/webhooks")
@role_required("admin")
def add_webhook() -> tuple[str, int]:
    events = [e for e in request.form.getlist("events") if e]
    try:
        subscriber, secret = add_subscriber(request.form.get("url", ""), events,
                                            request.form.get("filter", ""))
    except WebhookError as exc:
        return _page(400, problem=exc, form=request.form)
    return _page(201, created=subscriber, secret=secret)


def _change(subscriber_id: int, action) -> Response:
    try:
        action(get_subscriber(subscriber_id))
    except WebhookError as exc:
        flash(str(exc), "error")
    return _back()


@bp.post("/editor/webhooks/<int:subscriber_id>/pause")
@role_required("admin")
def pause_webhook(subscriber_id: int) -> Response:
    def act(subscriber):
        pause(subscriber.id)
        flash(_("Subscriber %(id)s paused: its deliveries wait.", id=subscriber.id))
    return _change(subscriber_id, act)


@bp.post("/editor/webhooks/<int:subscriber_id>/resume")
@role_required("admin")
def resume_webhook(subscriber_id: int) -> Response:
    def act(subscriber):
        resume(subscriber.id)
        flash(_("Subscriber %(id)s active again.", id=subscriber.id))
    return _change(subscriber_id, act)


@bp.post("/editor/webhooks/<int:subscriber_id>/test")
@role_required("admin")
def test_webhook(subscriber_id: int) -> Response:
    def act(subscriber):
        delivery = ping(subscriber)
        if delivery.state == "delivered":
            flash(_("Test delivered (HTTP %(status)s).", status=delivery.last_status))
        else:
            flash(_("Test not delivered: %(error)s", error=delivery.last_error), "error")
    return _change(subscriber_id, act)
