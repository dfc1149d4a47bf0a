"""Run a generator one item ahead, in a thread of its own with the application's context:
a sync reads its next page while it writes or sends the one before.

Reading mostly waits on a peer or on the database, writing mostly waits on the other
side: overlapped, a page costs the longer of the two instead of their sum. The
generator's errors are raised where its item would have come; stopping early (an
error of the caller) stops the thread after the item it is on.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

from flask import current_app

from ..extensions import db

T = TypeVar("T")


def ahead(produce: Callable[[], Iterator[T]], name: str = "sync-reader") -> Iterator[T]:
    """The items of `produce()`, each made in a thread while the caller uses the one before.
    The thread has its own application context, so its own database session."""
    app = current_app._get_current_object()
    out: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=1)
    stop = threading.Event()
    done = object()

    def put(item: tuple[bool, object]) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            with app.app_context():
                try:
                    for item in produce():
                        if not put((True, item)):
                            return
                finally:
                    db.session.remove()
            put((True, done))
        except BaseException as exc:  # handed to the caller, raised there
            put((False, exc))

    worker = threading.Thread(target=work, name=name, daemon=True)
    worker.start()
    try:
        while True:
            ok, value = out.get()
            if not ok:
                raise value  # type: ignore[misc]
            if value is done:
                return
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        worker.join(timeout=30)
