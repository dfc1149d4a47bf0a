"""`flask sync pull --from URL`, `flask sync push --to URL --token …`, `flask sync status`."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from ..extensions import db
from ..services.runs import summary

sync_cli = AppGroup("sync", help="Mirror entries between instances (pull and push).")

_network_options = [
    click.option("--retries", default=5, show_default=True, type=click.IntRange(0),
                 help="Tries again after a refused connection, a timeout, a 429 or a 5xx."),
    click.option("--backoff", default=1.0, show_default=True, type=click.FloatRange(0),
                 help="Back-off factor in seconds: waits 0, 2×, 4×… it between tries."),
    click.option("--timeout", default=30.0, show_default=True, type=click.FloatRange(0.1),
                 help="Seconds to wait for an answer."),
]


def network_options(func):
    for option in reversed(_network_options):
        func = option(func)
    return func


def _name(given: str | None, url: str) -> str:
    from .state import check_name, default_name

    try:
        return check_name(given or default_name(url))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--name") from None


def _check_url(url: str, option: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint=option)
    return url.rstrip("/")


@sync_cli.command("pull")
@click.option("--from", "url", required=True, help="The other instance's base URL.")
@click.option("--name", default=None,
              help="Its name here: its entries get the source remote:<name> "
                   "(default: its host and port).")
@click.option("--licence", default=None,
              help="Licence of its data (default: what its API declares).")
@click.option("--page-size", default=1000, show_default=True, type=click.IntRange(1, 1000))
@network_options
def pull(url: str, name: str | None, licence: str | None, page_size: int, retries: int,
         backoff: float, timeout: float) -> None:
    """Follow another instance's change feed (/api/v1/changes) and keep its entries here."""
    from .client import Remote
    from .pull import Puller, SyncFailed

    url = _check_url(url, "--from")
    name = _name(name, url)
    remote = Remote(url, retries=retries, backoff=backoff, timeout=timeout)
    puller = Puller(remote, name, licence=licence, page_size=page_size)
    try:
        result = puller.run()
    except ValueError as exc:  # the URL is known here under another name
        raise click.BadParameter(str(exc), param_hint="--name") from None
    except SyncFailed as exc:
        _print_report(puller.report)
        raise click.ClickException(f"Pull from {url} failed (run {exc.run.id}): {exc}\n"
                                   "What was pulled before is kept; run it again to "
                                   "resume.") from None
    finally:
        remote.close()
    if result.tags_created:
        click.echo(f"Tags created: {', '.join(result.tags_created)}")
    click.echo(f"Pulled from {url} as remote:{name} — run {result.run.id}")
    click.echo(summary(result.counts))
    if puller.sheets is not None and puller.sheets.counts:
        click.echo(f"sheets — {summary(puller.sheets.counts)}")
    _print_report(result.report)


@sync_cli.command("push")
@click.option("--to", "url", required=True, help="The target instance's base URL.")
@click.option("--token", envvar="ATLAS_SYNC_TOKEN", required=True,
              help="A bearer token of an editor account on the target "
                   "(env ATLAS_SYNC_TOKEN).")
@click.option("--as", "as_name", default=None,
              help="Our name there: its sources read remote:<name> (default: "
                   "ATLAS_INSTANCE_NAME).")
@click.option("--name", default=None, help="The target's name here (default: host-port).")
@click.option("--wait", default=30.0, show_default=True, type=click.FloatRange(0),
              help="Seconds to wait for transactions running at the start (an import) to "
                   "end, so that the push sends what they write.")
@network_options
def push(url: str, token: str, as_name: str | None, name: str | None, wait: float,
         retries: int, backoff: float, timeout: float) -> None:
    """Send what changed here since the last push to another instance's write API."""
    from .client import Remote
    from .push import Pusher, PushFailed
    from .state import check_name

    url = _check_url(url, "--to")
    try:
        as_name = check_name(as_name or current_app.config.get("INSTANCE_NAME") or "atlas")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--as") from None
    remote = Remote(url, token=token, retries=retries, backoff=backoff, timeout=timeout)
    pusher = Pusher(remote, as_name=as_name, name=_name(name, url), wait=wait)
    try:
        result = pusher.run()
    except ValueError as exc:  # the URL is known here under another name
        raise click.BadParameter(str(exc), param_hint="--name") from None
    except PushFailed as exc:
        click.echo(summary(pusher.counts), err=True)
        for line in pusher.report:
            click.echo(line, err=True)
        raise click.ClickException(f"Push to {url} stopped: {exc}") from None
    finally:
        remote.close()
    click.echo(f"Pushed to {url} as remote:{as_name}")
    click.echo(summary(result.counts))
    if result.sheet_counts:
        click.echo(f"sheets — {summary(result.sheet_counts)}")
    for line in result.report:
        click.echo(line)


@sync_cli.command("status")
def status() -> None:
    """Every remote pulled from or pushed to, with its last success and waiting refusals."""
    from ..models import PushedEntry, SyncState

    states = db.session.scalars(select(SyncState).order_by(SyncState.direction,
                                                           SyncState.url)).all()
    if not states:
        click.echo("No sync yet.")
    for state in states:
        when = state.succeeded_at.isoformat() if state.succeeded_at else "never succeeded"
        line = f"{state.direction}\t{state.url}\tremote:{state.name}\t{when}"
        if state.direction == "push":
            refused = db.session.scalar(select(func.count()).select_from(PushedEntry).where(
                PushedEntry.state_id == state.id, PushedEntry.state == "refused"))
            line += f"\t{refused} refused"
        click.echo(line)


@sync_cli.command("links")
def links() -> None:
    """Every other id known here for a local entry or sheet, and why it was linked."""
    from ..models import IdentityLink
    from ..services.link_reasons import reason_english

    rows = db.session.scalars(select(IdentityLink).order_by(IdentityLink.id)).all()
    if not rows:
        click.echo("No links.")
    for row in rows:
        click.echo(f"{row.entity_type}\t{row.alias_id}\t→ {row.entity_id}\t{row.origin}\t"
                   f"{reason_english(row.reason)}")


@sync_cli.command("unlink")
@click.argument("alias_id", type=click.UUID)
def unlink_command(alias_id) -> None:
    """Undo a link: the other id becomes an entry (or sheet) of its own again, made from
    what its instance said last; the local one stays as it is."""
    from ..services.revisions import Author
    from .unlink import unlink

    try:
        kind, local, made = unlink(alias_id, author=Author(label="sync unlink"))
    except LookupError as exc:
        raise click.BadParameter(str(exc), param_hint="ALIAS_ID") from None
    click.echo(f"Unlinked {kind} {alias_id} from {local}.")
    if made is not None:
        click.echo(f"Created {kind} {made.id} from what its instance said last.")


def _print_report(report: list[dict]) -> None:
    for line in report:
        where = line.get("entry") or line.get("external_id") or ""
        field = f" [{line['field']}]" if line.get("field") else ""
        click.echo(f"{line['kind']}: {where}{field}: {line['reason']}", file=sys.stdout)
