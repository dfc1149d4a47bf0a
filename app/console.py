"""`atlas`: the Flask CLI bound to our app factory, the one command of an installed package.

`atlas db upgrade`, `atlas backup create`, `atlas demo load`, `atlas run`: every
`flask …` command, without FLASK_APP. `atlas static-dir` prints where the static
files are, for the web server that serves them (deploy/nginx-atlas.conf).
"""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from .config import PROJECT_ROOT


def _create_app():
    from flask.cli import NoAppException

    from . import create_app
    from .config import ConfigurationError

    try:
        return create_app()
    except ConfigurationError as exc:  # a one-line "Error: …", not a traceback
        raise NoAppException(str(exc)) from None


cli = FlaskGroup(create_app=_create_app, load_dotenv=False,
                 help="Atlas des communs. Settings come from the environment "
                      "(DATABASE_URL, SECRET_KEY, ATLAS_*: deploy/atlas.env.example).")


@cli.command("static-dir", with_appcontext=False)
def static_dir() -> None:
    """Print the folder of the static files (served by nginx under /static/)."""
    click.echo(PROJECT_ROOT / "static")


def main() -> None:
    cli.main(prog_name="atlas")
