"""Citizens' error reports: received with a rate limit, handled by editors with a note.

The limit is counted in the table itself (reports of the same address or the same
session in the last hour), so it holds across workers and restarts, with no other
store. Addresses and session tokens are kept only as keyed hashes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select

from ..extensions import db
from ..models import Entry, User
from ..models.report import HANDLED_NOTE_MAX, REPORT_MESSAGE_MAX, REPORT_REASONS, ErrorReport
from .errors import NotFoundError, WriteValidationError, coded

WINDOW = timedelta(hours=1)


class TooManyReports(RuntimeError):
    """This address or session sent its quota of reports for the last hour."""


def reporter_key(secret: str, value: str) -> str:
    """A keyed hash of an address or a session token: countable, not reversible."""
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()


def recent_reports(client_key: str, session_key: str | None, *, now: datetime | None = None
                   ) -> int:
    since = (now or datetime.now(UTC)) - WINDOW
    same = ErrorReport.client_key == client_key
    if session_key:
        same = or_(same, ErrorReport.session_key == session_key)
    return db.session.scalar(select(func.count()).select_from(ErrorReport)
                             .where(same, ErrorReport.created_at >= since)) or 0


def report_error(entry: Entry, reason: str, message: str | None, *, client_key: str,
                 session_key: str | None, per_hour: int) -> ErrorReport:
    """Store a report on `entry`; WriteValidationError names the field, TooManyReports
    says the quota is spent (nothing stored either way)."""
    errors: dict[str, list[str]] = {}
    if reason not in REPORT_REASONS:
        errors["reason"] = [coded("report_reason", "Choose what is wrong.")]
    message = (message or "").strip() or None
    if message and len(message) > REPORT_MESSAGE_MAX:
        errors["message"] = [coded("too_long", "At most {max} characters.",
                                   max=REPORT_MESSAGE_MAX)]
    if errors:
        raise WriteValidationError(errors)
    # One report at a time per reporter: the count and the insert are not raced.
    db.session.execute(select(func.pg_advisory_xact_lock(
        func.hashtext("error_report:" + client_key))))
    if recent_reports(client_key, session_key) >= per_hour:
        db.session.rollback()
        raise TooManyReports(f"at most {per_hour} reports an hour")
    report = ErrorReport(entry_id=entry.id, reason=reason, message=message,
                         client_key=client_key, session_key=session_key)
    db.session.add(report)
    db.session.commit()
    return report


def open_reports() -> Sequence[ErrorReport]:
    """The queue: reports not handled yet, oldest first."""
    return db.session.scalars(select(ErrorReport).where(ErrorReport.handled_at.is_(None))
                              .order_by(ErrorReport.created_at, ErrorReport.id)).all()


def handled_reports(limit: int = 50) -> Sequence[ErrorReport]:
    """The most recently handled reports (all are kept)."""
    return db.session.scalars(select(ErrorReport).where(ErrorReport.handled_at.is_not(None))
                              .order_by(ErrorReport.handled_at.desc(), ErrorReport.id.desc())
                              .limit(limit)).all()


def handle_report(report_id: int, user: User, note: str | None) -> ErrorReport:
    """Mark a report handled by `user`, with an optional note; it stays in the table."""
    # Locked: two editors handling it at once, the second is told it is done.
    report = db.session.get(ErrorReport, report_id, with_for_update=True)
    if report is None:
        raise NotFoundError(f"No error report {report_id}")
    note = (note or "").strip() or None
    if note and len(note) > HANDLED_NOTE_MAX:
        raise WriteValidationError({"note": [coded("too_long", "At most {max} characters.",
                                                   max=HANDLED_NOTE_MAX)]})
    if report.handled_at is not None:
        raise WriteValidationError({"report": [coded("report_handled",
                                                     "This report was already handled.")]})
    report.handled_at = datetime.now(UTC)
    report.handled_by_id = user.id
    report.note = note
    db.session.commit()
    return report
