"""`atlas`: the Flask CLI bound to our app factory, the one command of an installed package.

`atlas db upgrade`, `atlas backup create`, `atlas demo load`, `atlas run`: every
`flask …` command, without FLASK_APP. `atlas static-dir` prints where the static
files are, for the web server that serves them (deploy/nginx-atlas.conf).
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import FlaskGroup, NoAppException, ScriptInfo

from .config import PROJECT_ROOT


def _create_app():
    from flask.cli import NoAppException

    from . import create_app
    from .config import ConfigurationError

    try:
        return create_app()
    except ConfigurationError as exc:  # a one-line "Error: …", not a traceback
        raise NoAppException(str(exc)) from None


class _AtlasGroup(FlaskGroup):
    """Flask's command line, looking up the app's commands before the installed packages'.

    Flask imports every package's commands (entry points "flask.commands") before it looks
    up any name: flask-limiter's `limiter` brings rich, a fifth of a second of CPU for every
    `atlas` command and timer job. Here they are loaded for a name the app does not have
    (`atlas limiter …`) and for the list of commands (`atlas --help`) only."""

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        found = click.Group.get_command(self, ctx, name)  # ours and Flask's: run, shell…
        if found is not None:
            return found
        try:
            app = ctx.ensure_object(ScriptInfo).load_app()
        except NoAppException:
            return super().get_command(ctx, name)  # a package's command, or Flask's error
        found = app.cli.get_command(ctx, name)
        if found is None:
            return super().get_command(ctx, name)
        if not current_app or current_app._get_current_object() is not app:  # as Flask does
            ctx.with_resource(app.app_context())
        return found


cli = _AtlasGroup(create_app=_create_app, load_dotenv=False,
                 help="Atlas des communs. Settings come from the environment "
                      "(DATABASE_URL, SECRET_KEY, ATLAS_*: deploy/atlas.env.example).")


@cli.command("static-dir", with_appcontext=False)
def static_dir() -> None:
    """Print the folder of the static files (served by nginx under /static/)."""
    click.echo(PROJECT_ROOT / "static")


def main() -> None:
    cli.main(prog_name="atlas")
