"""Moved to tests/support/sync.py (issue 11); kept so that tests written before the move
still import. Delete once nothing imports tests.sync_fixtures."""

from tests.support.sync import *  # noqa: F403
