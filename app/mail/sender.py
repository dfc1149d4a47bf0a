"""Sending one mail over SMTP (stdlib smtplib), or writing it to the log when no server is set.

Without ATLAS_SMTP_HOST the site keeps working: each mail goes to the log (logger
"app.mail", which Flask's handler writes to the server's error stream) and the caller
gets a `Delivery` saying so, to tell the person on the page where it went.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from dataclasses import dataclass
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from typing import Any

from flask import current_app

log = logging.getLogger("app.mail")

SENT, LOGGED, FAILED = "sent", "logged", "failed"

_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP  # readable in the log, 7-bit on the wire


@dataclass(frozen=True)
class SmtpSettings:
    """What smtplib needs, copied out of the app's config (a background send has no app)."""

    host: str | None
    port: int
    user: str | None
    password: str | None
    use_ssl: bool
    starttls: bool
    timeout: float
    sender: str
    cafile: str | None = None

    @classmethod
    def from_config(cls, config: Any) -> SmtpSettings:
        return cls(config.get("SMTP_HOST"), config.get("SMTP_PORT", 25),
                   config.get("SMTP_USER"), config.get("SMTP_PASSWORD"),
                   bool(config.get("SMTP_SSL")), bool(config.get("SMTP_STARTTLS")),
                   float(config.get("SMTP_TIMEOUT", 10)),
                   config.get("MAIL_FROM") or "atlas@localhost", config.get("SMTP_CA_FILE"))


@dataclass(frozen=True)
class Delivery:
    """What became of one mail: sent to the server, written to the log, or failed."""

    status: str
    recipient: str
    detail: str = ""

    @property
    def sent(self) -> bool:
        return self.status == SENT


def configured() -> bool:
    return bool(current_app.config.get("SMTP_HOST"))


class BadAddress(ValueError):
    """Not one plain address: a mail is never sent to it (no header injection, no lists)."""


def plain_address(address: str) -> str:
    address = address.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or len(address) > 254 \
            or any(c.isspace() or c in ',;<>"()[]\\' or ord(c) < 32 for c in address):
        raise BadAddress(f"not a plain email address: {address!r}")
    return address


def compose(settings: SmtpSettings, to: str, subject: str, body: str) -> Message:
    """A plain-text UTF-8 mail. Built with the compat32 classes on purpose: the newer
    EmailMessage folds long non-ASCII subjects losing a space between encoded words
    (CPython 3.11), which Header's own folding does not."""
    message = MIMEText(body, "plain", _UTF8)
    name, sender = parseaddr(settings.sender)
    message["From"] = formataddr((name, sender), charset="utf-8")
    message["To"] = plain_address(to)
    message["Subject"] = Header(" ".join(subject.split()), "utf-8")  # never a line break
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    return message


def send_mail(to: str, subject: str, body: str, *, background: bool = False) -> Delivery:
    """Send (or log) one plain-text mail. `background`: hand it to a thread and answer at
    once, so that a page's answer time says nothing about whether a mail left."""
    settings = SmtpSettings.from_config(current_app.config)
    try:
        message = compose(settings, to, subject, body)
    except BadAddress as exc:
        log.error("Mail %r not sent: %s", subject, exc)
        return Delivery(FAILED, to, str(exc))
    if not settings.host:
        log.warning("No mail server configured (ATLAS_SMTP_HOST): this mail to %s was not "
                    "sent.\nSubject: %s\n\n%s", to, subject, body)
        return Delivery(LOGGED, to, "ATLAS_SMTP_HOST")
    if background:
        threading.Thread(target=deliver, args=(settings, message), daemon=True,
                         name="mail").start()
        return Delivery(SENT, to)
    return deliver(settings, message)


def deliver(settings: SmtpSettings, message: Message) -> Delivery:
    """Hand `message` to the SMTP server; a refusal or an unreachable server is logged and
    returned as FAILED, never raised: the page or job that sends goes on."""
    to = str(message["To"])
    try:
        context = ssl.create_default_context()  # the server's certificate and name checked
        if settings.cafile:
            context.load_verify_locations(cafile=settings.cafile)
        if settings.use_ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.host or "", settings.port,
                                                  timeout=settings.timeout, context=context)
        else:
            smtp = smtplib.SMTP(settings.host or "", settings.port, timeout=settings.timeout)
        with smtp:
            if settings.starttls:
                smtp.starttls(context=context)
            if settings.user:
                smtp.login(settings.user, settings.password or "")
            smtp.send_message(message, from_addr=parseaddr(settings.sender)[1],
                              to_addrs=[to])
    except (OSError, smtplib.SMTPException) as exc:
        log.error("Mail to %s (%s) not sent: %s:%s answered %s", to, message["Subject"],
                  settings.host, settings.port, exc)
        return Delivery(FAILED, to, str(exc))
    log.info("Mail sent to %s: %s", to, message["Subject"])
    return Delivery(SENT, to)
