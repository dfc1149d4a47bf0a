"""The mails the Atlas sends: what each says (templates/mail/*.txt) and to whom.

Each function renders one kind of mail in a language (the asker's own for a reset,
ATLAS_MAIL_LOCALE otherwise) and sends it through app.mail.sender.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import current_app, has_request_context, render_template, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from sqlalchemy import select

from ..extensions import db
from ..identity import identity
from ..models import Proposal, User
from . import links
from .sender import Delivery, send_mail


class MailConfigError(RuntimeError):
    """Links cannot be written: a mail sent outside a request needs ATLAS_BASE_URL."""


def site_name() -> str:
    return identity().site_name


def external_url(endpoint: str, **values: object) -> str:
    """An absolute link for a mail: under ATLAS_BASE_URL when set (never a Host header an
    attacker could choose), else the current request's own address."""
    base = current_app.config.get("BASE_URL")
    if not base:
        if not has_request_context():
            raise MailConfigError("Set ATLAS_BASE_URL (the site's public address, e.g. "
                                  "https://atlas.example.org) to put links in mails sent "
                                  "outside a request.")
        return url_for(endpoint, _external=True, **values)
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return base.rstrip("/") + path


def _mail_locale() -> str:
    return current_app.config.get("MAIL_LOCALE") or "fr"


def _render(locale: str, template: str, **context: object) -> tuple[str, str]:
    """(subject, body) of templates/mail/<template>.txt: its first line is the subject."""
    with force_locale(locale):
        text = render_template(f"mail/{template}.txt", site=site_name(), **context)
    subject, _sep, body = text.lstrip().partition("\n")
    return subject.strip(), body.strip() + "\n"


def send_reset(user: User) -> tuple[Delivery, str]:
    """The reset link of `user`, in the asker's language, sent from a background thread
    (the page answers in the same time whether the account exists or not)."""
    link = external_url("auth.reset_password", token=links.reset_token(user))
    minutes = current_app.config["PASSWORD_RESET_MAX_AGE"] // 60
    locale = str(get_locale() or _mail_locale())
    subject, body = _render(locale, "reset", user=user, link=link, minutes=minutes)
    return send_mail(user.email, subject, body, background=True), link


def send_invitation(email: str, role: str, inviter: User) -> tuple[Delivery, str]:
    """An invitation to open an account of `role`; the link is returned for the admin's page
    when no mail could leave."""
    link = external_url("auth.accept_invitation",
                        token=links.invitation_token(email, role, inviter))
    days = max(1, current_app.config["INVITATION_MAX_AGE"] // 86400)
    subject, body = _render(_mail_locale(), "invitation", email=email, role=role,
                            inviter=inviter, link=link, days=days)
    return send_mail(email, subject, body), link


def editors() -> list[User]:
    """Who receives the digest: active editors and administrators."""
    return list(db.session.scalars(select(User).where(
        User.active.is_(True), User.role.in_(("editor", "admin"))).order_by(User.id)))


def send_digest(pending: list[Proposal], recipients: Iterable[User]) -> list[Delivery]:
    """The list of what waits for review, to each editor; nothing when nothing waits."""
    if not pending:
        return []
    items = [{"proposal": p, "link": external_url("editor.proposal", proposal_id=p.id)}
             for p in pending]
    suggestions = sum(1 for p in pending if p.author_id is None)
    subject, body = _render(_mail_locale(), "digest", items=items, count=len(pending),
                            suggestions=suggestions, proposals=len(pending) - suggestions,
                            queue=external_url("editor.proposals"))
    return [send_mail(user.email, subject, body) for user in recipients]


def decision_recipient(proposal: Proposal) -> str | None:
    """Who wrote the proposal: its contributor's account (when active), else the contact an
    anonymous suggester left, else no one."""
    if proposal.author is not None:
        return proposal.author.email if proposal.author.active else None
    return proposal.contact or None


def send_decision(proposal: Proposal) -> Delivery | None:
    """Tell a proposal's author it was accepted or refused, with the editor's reason."""
    to = decision_recipient(proposal)
    if to is None:
        return None
    entry = proposal.entry
    link = None
    if proposal.state == "accepted" and entry.moderation == "published" \
            and entry.deleted_at is None:
        link = external_url("web.entry_page", ref=entry.slug)
    elif proposal.author is not None:
        link = external_url("editor.contributions")
    # In the language the proposal was written in, when known.
    locale = proposal.locale if proposal.locale in current_app.config["LANGUAGES"] \
        else _mail_locale()
    subject, body = _render(locale, "decision", proposal=proposal, entry=entry,
                            link=link, accepted=proposal.state == "accepted")
    return send_mail(to, subject, body)


def delivery_notice(delivery: Delivery) -> str | None:
    """What to tell the editor or admin on the page when a mail did not leave (None: sent)."""
    if delivery.status == "logged":
        return _("No mail server is configured: the mail to %(to)s was written to the "
                 "server's log instead.", to=delivery.recipient)
    if delivery.status == "failed":
        return _("The mail to %(to)s could not be sent (%(detail)s); it is in the server's log.",
                 to=delivery.recipient, detail=delivery.detail)
    return None
