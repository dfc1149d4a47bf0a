"""Moved to tests/support/editor.py (issue 11), the `accounts` fixture to tests/conftest.py;
kept so that tests written before the move still import. Delete once nothing imports
tests.editor_fixtures."""

from tests.conftest import accounts  # noqa: F401
from tests.support.editor import *  # noqa: F403
