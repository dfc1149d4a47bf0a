"""Flask CLI commands: `flask demo load`, `flask users create`."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from .models.vocab import USER_ROLES
from .services.errors import WriteValidationError

demo_cli = AppGroup("demo", help="The Lille demo data.")
users_cli = AppGroup("users", help="Accounts of editors and administrators.")


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

    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(email, password, role, name)
    except WriteValidationError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {user.role} {user.email} (id {user.id}).")


def register_cli(app: Flask) -> None:
    from importers.cli import import_cli

    app.cli.add_command(demo_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(import_cli)
