"""`flask mail digest` (for a daily timer) and `flask mail test` (to check the settings)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

mail_cli = AppGroup("mail", help="Email: the editors' digest, a test mail.")


@mail_cli.command("digest")
def mail_digest() -> None:
    """Send each active editor and administrator the list of proposals and suggestions
    waiting for review; nothing is sent when nothing waits. Exits 1 if a mail failed."""
    from ..services.proposals import pending_proposals
    from .messages import MailConfigError, editors, send_digest

    pending = pending_proposals()
    if not pending:
        click.echo("Nothing pending: no digest sent.")
        return
    try:
        deliveries = send_digest(pending, editors())
    except MailConfigError as exc:
        raise click.ClickException(str(exc)) from None
    for delivery in deliveries:
        click.echo(f"{delivery.recipient}\t{delivery.status}\t{delivery.detail}".rstrip())
    click.echo(f"{len(pending)} pending, digest to {len(deliveries)} editor(s).")
    if any(d.status == "failed" for d in deliveries):
        raise SystemExit(1)


@mail_cli.command("test")
@click.option("--to", "to", required=True, help="Where to send the test mail.")
def mail_test(to: str) -> None:
    """Send a short mail to check the SMTP settings (the ATLAS_SMTP_HOST… settings)."""
    from .messages import site_name
    from .sender import send_mail

    delivery = send_mail(to, f"{site_name()}: test", "This mail checks the SMTP settings.\n")
    click.echo(f"{delivery.recipient}\t{delivery.status}\t{delivery.detail}".rstrip())
    if delivery.status == "failed":
        raise SystemExit(1)
