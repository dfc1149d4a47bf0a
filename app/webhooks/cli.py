"""`atlas webhooks add|list|pause|resume|test|deliver|log`: the subscribers and their
deliveries from the command line. The secret is printed once, by `add`."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from ..models.webhook import WEBHOOK_EVENTS

webhooks_cli = AppGroup("webhooks", help="Signed webhooks: subscribers and deliveries.")


def _checked(call):
    from .subscribers import WebhookError

    try:
        return call()
    except WebhookError as exc:
        raise click.UsageError(str(exc)) from None


@webhooks_cli.command("add")
@click.argument("url")
@click.option("--event", "events", multiple=True, type=click.Choice(WEBHOOK_EVENTS),
              help="An event to send (repeatable; default: all).")
@click.option("--filter", "filter_query", default="",
              help="The entries it hears of, as query parameters: 'kind=commons&tag=…'.")
@click.option("--pause-after", default=10, show_default=True,
              help="Failed deliveries in a row after which it is paused.")
def add(url: str, events: tuple[str, ...], filter_query: str, pause_after: int) -> None:
    """Add a subscriber; prints its secret, once."""
    from .subscribers import add_subscriber

    subscriber, secret = _checked(lambda: add_subscriber(url, list(events), filter_query,
                                                         pause_after))
    click.echo(f"Subscriber {subscriber.id} added: {subscriber.url} "
               f"({', '.join(subscriber.events)})")
    click.echo(f"Secret (shown once; it signs every request): {secret}")


@webhooks_cli.command("list")
def list_command() -> None:
    """Each subscriber: id, state, URL, events, filter, failures in a row, pending."""
    from .subscribers import list_subscribers

    for subscriber, pending in list_subscribers():
        state = "active" if subscriber.active else f"paused ({subscriber.paused_reason})"
        click.echo("\t".join([str(subscriber.id), state, subscriber.url,
                              ",".join(subscriber.events), subscriber.filter_query or "-",
                              f"{subscriber.consecutive_failures} failures in a row",
                              f"{pending} pending"]))


@webhooks_cli.command("pause")
@click.argument("subscriber_id", type=int)
def pause_command(subscriber_id: int) -> None:
    """Stop sending to a subscriber (its deliveries wait)."""
    from .subscribers import pause

    _checked(lambda: pause(subscriber_id))
    click.echo(f"Subscriber {subscriber_id} paused.")


@webhooks_cli.command("resume")
@click.argument("subscriber_id", type=int)
def resume_command(subscriber_id: int) -> None:
    """Send to a paused subscriber again, from where it stopped."""
    from .subscribers import resume

    _checked(lambda: resume(subscriber_id))
    click.echo(f"Subscriber {subscriber_id} active.")


@webhooks_cli.command("test")
@click.argument("subscriber_id", type=int)
def test_command(subscriber_id: int) -> None:
    """Send a signed `ping` to a subscriber now; exit 1 if it is not accepted."""
    from .subscribers import get_subscriber
    from .testing import ping

    delivery = _checked(lambda: ping(get_subscriber(subscriber_id)))
    if delivery.state == "delivered":
        click.echo(f"ping {delivery.id} delivered (HTTP {delivery.last_status}).")
        return
    click.echo(f"ping {delivery.id} not delivered: {delivery.last_error}", err=True)
    sys.exit(1)


@webhooks_cli.command("deliver")
def deliver_command() -> None:
    """Store the new changes as deliveries and send what is due (what the `webhooks` job
    does, under its lock). Exit 75 when a run is already under way."""
    from ..jobs.lock import job_lock
    from .job import run

    with job_lock("webhooks") as got:
        if not got:
            click.echo("webhooks are being delivered by another run", err=True)
            sys.exit(75)
        click.echo(run())


@webhooks_cli.command("log")
@click.option("--subscriber", "subscriber_id", type=int, default=None)
@click.option("--limit", default=20, show_default=True)
def log_command(subscriber_id: int | None, limit: int) -> None:
    """The last deliveries: when, subscriber, event, state, attempts, last answer."""
    from .subscribers import recent_deliveries

    for d in recent_deliveries(subscriber_id, limit):
        click.echo("\t".join([f"{d.created_at:%Y-%m-%d %H:%M:%S}", str(d.subscriber_id),
                              str(d.id), d.event, d.state, f"{d.attempts} attempt(s)",
                              d.last_error or (f"HTTP {d.last_status}" if d.last_status
                                               else "-")]))
