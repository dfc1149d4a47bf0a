"""Flask CLI commands: `flask demo load`, `flask users create`."""

from flask import Flask


def register_cli(app: Flask) -> None:
    pass
