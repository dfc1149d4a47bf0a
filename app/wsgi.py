"""The WSGI entry point of a long-lived server: `gunicorn app.wsgi:app`.

The app built here lives as long as the worker: its templates, mappers, compiled SQL and
the like, ~170,000 objects the cyclic garbage collector would walk on each full
collection, ~90 ms that some visitor's request paid (measured: the first map block of
a new worker at 1,000,000 entries, 119 ms against 32 once frozen). Frozen here, they
are never collected for cycles; they are never freed before the worker ends anyway.
Not in create_app(): the tests and commands build apps that must be freed."""

from __future__ import annotations

import gc

from . import create_app

app = create_app()
gc.freeze()
