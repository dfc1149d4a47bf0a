"""Moved to tests/support/exports.py (issue 11); kept so that tests written before the move
still import. Delete once nothing imports tests.export_fixtures."""

from tests.support.exports import *  # noqa: F403
