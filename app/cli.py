"""Flask CLI commands: `flask demo …`, `flask users …`, `flask tokens …`; the other
groups (import, export, sync, backup) are registered here too."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from .models.vocab import USER_ROLES
from .services.errors import WriteValidationError

demo_cli = AppGroup("demo", help="The Lille demo data.")
users_cli = AppGroup("users", help="Accounts of editors and administrators.")
tokens_cli = AppGroup("tokens", help="API tokens of platforms and scripts.")


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@demo_cli.command("load")
def demo_load() -> None:
    """Load data/demo/lille.toml (idempotent: a second run changes nothing)."""
    from .demo import DEMO_FILE, load_demo

    try:
        counts = load_demo(progress=lambda msg: click.echo(msg, err=True))
    except WriteValidationError as exc:
        raise click.ClickException(f"{DEMO_FILE}: {exc}") from None
    click.echo(", ".join(f"{key}: {value}" for key, value in sorted(counts.items())))


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(USER_ROLES), required=True)
@click.option("--name", default=None)
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input instead of prompting.")
def users_create(email: str, role: str, name: str | None, password_stdin: bool) -> None:
    """Create an account; the password is prompted for (or read from stdin) and hashed."""
    from .services.users import create_user

    password = _read_password(password_stdin)
    try:
        user = create_user(email, password, role, name)
    except WriteValidationError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {user.role} {user.email} (id {user.id}).")


@users_cli.command("set-role")
@click.option("--email", required=True)
@click.option("--role", type=click.Choice(USER_ROLES), required=True)
def users_set_role(email: str, role: str) -> None:
    """Change an account's role."""
    from .services.users import set_role

    user = _checked(lambda: set_role(email, role))
    click.echo(f"{user.email} is now {user.role}.")


@users_cli.command("reset-password")
@click.option("--email", required=True)
@click.option("--password-stdin", is_flag=True)
def users_reset_password(email: str, password_stdin: bool) -> None:
    """Set a new password (prompted, or read from stdin)."""
    from .services.users import set_password

    password = _read_password(password_stdin)
    user = _checked(lambda: set_password(email, password))
    click.echo(f"Password of {user.email} changed.")


@users_cli.command("deactivate")
@click.option("--email", required=True)
@click.option("--reactivate", is_flag=True, help="Undo a deactivation.")
def users_deactivate(email: str, reactivate: bool) -> None:
    """Stop an account's logins and tokens (its history stays)."""
    from .services.users import set_active

    user = _checked(lambda: set_active(email, reactivate))
    click.echo(f"{user.email} is {'active' if user.active else 'deactivated'}.")


@users_cli.command("list")
def users_list() -> None:
    """Every account with its role and state."""
    from .services.users import list_users

    for user in list_users():
        state = "active" if user.active else "deactivated"
        click.echo(f"{user.email}\t{user.role}\t{state}\t{user.name or ''}")


@tokens_cli.command("create")
@click.option("--email", required=True, help="The account the token acts as.")
@click.option("--name", required=True, help="Which platform or script uses it.")
def tokens_create(email: str, name: str) -> None:
    """Create a token; it is printed once and stored only as a hash."""
    from .services.tokens import create_token
    from .services.users import find_user

    user = find_user(email)
    if user is None:
        raise click.ClickException(f"email: No account with the email {email!r}.")
    plaintext, token = _checked(lambda: create_token(user, name))
    click.echo(f"Token {token.id} for {user.email} ({user.role}), shown only now:", err=True)
    click.echo(plaintext)


@tokens_cli.command("list")
def tokens_list() -> None:
    """Tokens (never their values) with owner and state."""
    from sqlalchemy import select

    from .extensions import db
    from .models import ApiToken

    for token in db.session.scalars(select(ApiToken).order_by(ApiToken.id)):
        state = "revoked" if token.revoked_at else "live"
        used = token.last_used_at.isoformat() if token.last_used_at else "never used"
        click.echo(f"{token.id}\t{token.user.email}\t{token.name}\t{state}\t{used}")


@tokens_cli.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    """Revoke a token by its id (see `flask tokens list`)."""
    from .services.errors import NotFoundError
    from .services.tokens import revoke_token

    try:
        revoke_token(token_id)
    except NotFoundError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Token {token_id} revoked.")


def _checked(action):
    try:
        return action()
    except WriteValidationError as exc:
        raise click.ClickException(str(exc)) from None


def register_cli(app: Flask) -> None:
    from importers.cli import import_cli

    from .backup import backup_cli
    from .communes.cli import communes_cli
    from .exports.cli import export_command
    from .jobs.cli import jobs_cli
    from .mail.cli import mail_cli
    from .sources.cli import sources_cli
    from .sync.cli import sync_cli
    from .webhooks.cli import webhooks_cli

    app.cli.add_command(demo_cli)
    app.cli.add_command(sources_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(import_cli)
    app.cli.add_command(export_command)
    app.cli.add_command(sync_cli)
    app.cli.add_command(backup_cli)
    app.cli.add_command(mail_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(webhooks_cli)
    app.cli.add_command(communes_cli)
