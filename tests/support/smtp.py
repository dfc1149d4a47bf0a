"""A real SMTP server for the email tests: aiosmtpd on a loopback port, keeping what it gets."""

from __future__ import annotations

import re
import ssl
import subprocess
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.support.processes import free_port

LINK_RE = re.compile(r"https?://\S+")


class Inbox:
    """aiosmtpd's handler: every message accepted, parsed, kept in arrival order."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content,
                                     policy=policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted"

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address in m["X-Envelope-To"]]

    def wait_for(self, address: str, count: int = 1, timeout: float = 10) -> list[EmailMessage]:
        """The first `count` messages to `address`, waiting for mails sent from a thread."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{count} mail(s) to {address} expected, got {len(self.to(address))}")


class SmtpServer:
    """aiosmtpd on a free loopback port. `tls`: None, "starttls" (STARTTLS required, and a
    login: `logins` records each user and password) or "ssl" (TLS from the first byte)."""

    def __init__(self, tls: str | None = None, cert: tuple[Path, Path] | None = None) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.logins: list[tuple[str, str]] = []
        options: dict = {}
        if tls:
            assert cert, "TLS needs a certificate (self_signed())"
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*cert)
            if tls == "starttls":
                # PLAIN only, so that a refused password is one attempt (smtplib tries
                # every mechanism offered).
                options = {"tls_context": context, "require_starttls": True,
                           "authenticator": self._authenticate, "auth_required": True,
                           "auth_exclude_mechanism": ["LOGIN"]}
            else:
                options = {"ssl_context": context}
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port,
                                     **options)

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        user, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append((user, password))
        # handled=False: aiosmtpd then answers a refusal (535) itself; its default (True)
        # leaves the client waiting for an answer until its time-out.
        return AuthResult(success=password == "mail password", handled=False)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def body(message: EmailMessage) -> str:
    """The text as written (the wire's CRLF line ends back to LF)."""
    return message.get_content().replace("\r\n", "\n")


def links_in(message: EmailMessage) -> list[str]:
    return LINK_RE.findall(body(message))


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1 (openssl); the certificate is its own CA."""
    cert, key = folder / "smtp.crt", folder / "smtp.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key
