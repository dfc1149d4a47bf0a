"""Citizens' error reports: CSRF, the per-address limit, the editors' queue."""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import ErrorReport
from tests.support.editor import csrf_token, login, post_form

PAGE = "/entries/la-coroutine/report"


def reports_count() -> int:
    return db.session.scalar(select(func.count()).select_from(ErrorReport))


def test_a_report_needs_the_form_token(client):
    before = reports_count()
    response = client.post(PAGE, data={"reason": "closed"})
    assert response.status_code == 400
    assert reports_count() == before


def test_an_anonymous_report_is_stored_and_thanked(client):
    response = post_form(client, PAGE, {"reason": "moved", "message": "  Rue Pierre-Mauroy  "})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/entries/la-coroutine/report/thanks")
    report = db.session.scalars(select(ErrorReport).order_by(ErrorReport.id.desc())).first()
    assert (report.reason, report.message, report.entry.slug) == \
        ("moved", "Rue Pierre-Mauroy", "la-coroutine")
    assert "127.0.0.1" not in report.client_key  # a keyed hash, not the address
    assert client.get(response.headers["Location"]).status_code == 200


def test_a_report_without_a_reason_is_refused_beside_the_field(client):
    before = reports_count()
    response = post_form(client, PAGE, {"reason": "boring", "message": "x"})
    assert response.status_code == 422
    assert "Choisissez ce qui ne va pas." in response.get_data(as_text=True)
    assert reports_count() == before


def test_the_limit_counts_an_address_across_sessions(app, client):
    per_hour = app.config["REPORTS_PER_HOUR"]
    for _ in range(per_hour):
        assert post_form(client, PAGE, {"reason": "wrong"}).status_code == 303
    before = reports_count()
    other = app.test_client()  # a new session, same address
    response = post_form(other, PAGE, {"reason": "closed"})
    assert response.status_code == 429
    assert "trop de signalements" in response.get_data(as_text=True)
    assert reports_count() == before


def test_an_unknown_entry_has_no_report_form(client):
    assert client.get("/entries/nowhere-at-all/report").status_code == 404


def test_editors_handle_reports_with_a_note_and_handled_ones_stay(app, client, accounts):
    post_form(client, PAGE, {"reason": "closed", "message": "Fermé depuis mars"})
    contributor = app.test_client()
    login(contributor, "contributor")
    assert contributor.get("/editor/reports").status_code == 403
    client = app.test_client()
    login(client, "editor")
    page = client.get("/editor/reports").get_data(as_text=True)
    assert "Fermé depuis mars" in page and "Il a fermé" in page
    report = db.session.scalars(select(ErrorReport).order_by(ErrorReport.id.desc())).first()
    token = csrf_token(client, "/editor/reports")
    response = client.post(f"/editor/reports/{report.id}/handle",
                           data={"csrf_token": token, "note": "Statut passé à fermé"})
    assert response.status_code == 303
    db.session.refresh(report)
    assert report.handled_at is not None and report.note == "Statut passé à fermé"
    assert report.handled_by.email == accounts["editor"].email
    page = client.get("/editor/reports").get_data(as_text=True)
    handled = page[page.index('id="handled-reports"'):]
    assert "Statut passé à fermé" in handled
    again = client.post(f"/editor/reports/{report.id}/handle",
                        data={"csrf_token": token, "note": "bis"})
    assert again.status_code == 303
    db.session.refresh(report)
    assert report.note == "Statut passé à fermé"
