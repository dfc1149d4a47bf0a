"""Serving a test's HTTP server from a thread, and stopping it at once.

`serve_forever` looks for a shutdown request every `poll_interval` seconds: at its
default (0.5 s), every server the suite stops (a live app, a replayed service, each
instance of the sync tests) made `shutdown()` wait up to half a second.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from socketserver import BaseServer

POLL_INTERVAL = 0.02


def serving(server: BaseServer) -> Callable[[], None]:
    """`server.serve_forever`, answering a shutdown within POLL_INTERVAL: a thread's target."""
    return functools.partial(server.serve_forever, poll_interval=POLL_INTERVAL)
