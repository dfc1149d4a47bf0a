"""Moved to tests/support/importer.py (issue 11); kept so that tests written before the move
still import. Delete once nothing imports tests.importer_fixtures."""

from tests.support.importer import *  # noqa: F403
