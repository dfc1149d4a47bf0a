"""Moved to tests/support/api.py (issue 11); kept so that tests written before the move
still import. Delete once nothing imports tests.api_fixtures."""

from tests.support.api import *  # noqa: F403
