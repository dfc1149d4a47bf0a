"""Reading and validation in a child process; batches handed over through a bounded queue.

Reading a file and loading each record through the entry schema is pure Python, and
so is the writer's work between its SQL statements: in one process they share one GIL
and hardly overlap. Here a child process reads and validates while the parent writes.

How the child starts: a 'fork' when the parent runs a single thread (the command
line, the benchmark): it starts at once, with everything imported, and there is no
other thread whose locks it could inherit held. Otherwise (a test session with
servers in threads…) from a 'forkserver', a clean process started once per parent
(about a second: it imports the importers), which inherited nothing. Either way the
child never touches the database: it reads the file and validates, and a forked
child leaves through os._exit, so the parent's connections are never closed from it;
nor does it keep them open: a forked child first puts /dev/null in place of every
socket it inherited (the parent's libpq connections), so that a child outliving its
parent could not keep the parent's session, and its transaction, alive.

It dies with its parent, even by `kill -9`: the kernel sends it SIGKILL when its
parent ends (prctl PR_SET_PDEATHSIG, Linux; for a forkserver's child, the server
ends with the parent first), and a watchdog thread ends it when the parent's end of
the pipe closes (any system). It used to stay blocked for good, when its queue was
full as the parent died: exiting, it waited for the queue's feeder thread, which
waited for a reader that would never come. The queue holds QUEUE_BATCHES batches, so
memory stays flat. The child ignores Ctrl-C: the parent gets it, rolls back and stops the
child; an error in the child (a file cut inside a quoted field…) is raised in the
parent, with its message.

Like any multiprocessing child started by a forkserver, it imports the parent's main
script: a script that runs imports must keep its work under `if __name__ == "__main__":`.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import multiprocessing.connection
import os
import pickle
import queue
import signal
import threading
import time
import traceback
from collections.abc import Iterator
from multiprocessing.process import BaseProcess
from typing import Any

from .prepare import Prepared
from .sources import FileSource

QUEUE_BATCHES = 2
# Smaller files are read in a thread: starting a process costs more than it saves.
PROCESS_MIN_BYTES = 1 << 20
# What the forkserver imports once, so that each child starts in milliseconds.
PRELOAD = ["__main__", "importers.prepare", "importers.csv_reader", "importers.sources"]
POLL_SECONDS = 0.5
STOP_SECONDS = 5
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def in_child(items: Any, mode: str) -> bool:
    """Whether `items` is read in a child process: `mode` "process", "thread" or "auto"."""
    return isinstance(items, FileSource) and (
        mode == "process" or (mode == "auto" and items.size() >= PROCESS_MIN_BYTES))


def start_method() -> str:
    """'fork' when this process runs one thread only, else 'forkserver'."""
    return "fork" if threading.active_count() == 1 else "forkserver"


def _context(method: str) -> Any:
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(PRELOAD)  # only read when the server starts
    return context


def warm_up() -> None:
    """Start the forkserver now, if it will be used, rather than at the first batch."""
    if start_method() == "forkserver":
        from multiprocessing import forkserver

        _context("forkserver")
        forkserver.ensure_running()


def prepared_in_child(source: FileSource, batch_size: int, method: str | None = None
                      ) -> ChildReader:
    """The batches of `source`, read and validated by a child process started now.

    `method` is how the child starts (default: start_method(), decided here, in the
    caller's thread). Iterate the result for the batches, in order; close it (done
    by the end of the iteration, an error in it, or its close()) to stop the child.
    """
    method = method or start_method()
    context = _context(method)
    out = context.Queue(maxsize=QUEUE_BATCHES)
    stop, plan_new = context.Event(), context.Event()
    plan_new.set()
    child = context.Process(target=_child_main,
                            args=(source, batch_size, out, stop, plan_new, method == "fork"),
                            name="import-reader", daemon=True)
    child.start()
    return ChildReader(child, out, stop, plan_new)


class ChildReader:
    """The receiving end: batches as they come, the child stopped on close().

    `plan_new`, an event the child reads before each batch: whether to render the
    rows of new entries (prepare_batch with the mapping).
    """

    def __init__(self, child: BaseProcess, out: Any, stop: Any, plan_new: Any) -> None:
        self.child, self.out, self.stop, self.plan_new = child, out, stop, plan_new
        self.closed = False

    def __iter__(self) -> Iterator[Prepared]:
        try:
            while True:
                try:
                    kind, value = self.out.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    if self.child.is_alive():
                        continue
                    try:  # its last message may have arrived just as it exited
                        kind, value = self.out.get(timeout=POLL_SECONDS)
                    except queue.Empty:
                        raise RuntimeError(f"the reading process ended unexpectedly (exit "
                                           f"code {self.child.exitcode})") from None
                if kind == "batch":
                    yield value
                elif kind == "done":
                    return
                else:
                    raise value
        finally:
            self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.stop.set()
            _stop(self.child, self.out)


def _stop(child: BaseProcess, out: Any) -> None:
    """Let the child see `stop` (emptying the queue unblocks its put), then end it."""
    deadline = time.monotonic() + STOP_SECONDS
    while child.is_alive() and time.monotonic() < deadline:
        try:
            out.get(timeout=0.05)
        except queue.Empty:
            pass
        except (EOFError, OSError):
            break
    if child.is_alive():
        child.terminate()
        child.join(STOP_SECONDS)
    if child.is_alive():  # pragma: no cover - SIGTERM is not caught in the child
        child.kill()
    child.join()
    out.close()
    child.close()


def _child_main(source: FileSource, batch_size: int, out: Any, stop: Any,
                plan_new: Any, forked: bool = False) -> None:
    parent = multiprocessing.parent_process()
    _die_with_parent(parent)
    if forked:
        _drop_inherited_sockets()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    from .prepare import prepare_batch, read_batches

    # What was imported (or inherited) stays: the collector need not scan it.
    gc.freeze()

    def put(message: tuple[str, Any]) -> bool:
        """Hand `message` over, waiting while the queue is full; False: stop reading."""
        while not stop.is_set() and (parent is None or parent.is_alive()):
            try:
                out.put(message, timeout=POLL_SECONDS)
                return True
            except queue.Full:
                continue
        if parent is not None and not parent.is_alive():
            # Nobody will read what is still in the pipe: exit without waiting to flush
            # it. While the parent lives it drains the queue (_stop): a message cut
            # half-way would leave it waiting forever for the rest.
            out.cancel_join_thread()
        return False

    try:
        for batch, advanced in read_batches(source, batch_size):
            prepared = prepare_batch(batch, advanced, source.mapping, plan=plan_new.is_set())
            if not put(("batch", prepared)):
                return
        put(("done", None))
    except BaseException as exc:  # raised again in the parent
        put(("error", _portable(exc)))


def _die_with_parent(parent: BaseProcess | None) -> None:
    """SIGKILL from the kernel when the parent ends, and a watchdog thread in case the
    signal is not available or the parent ended before it was asked for."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if parent is None:  # pragma: no cover - always started by a parent here
        return
    sentinel = parent.sentinel

    def watch() -> None:
        multiprocessing.connection.wait([sentinel])  # ready once the parent is gone
        os._exit(1)

    threading.Thread(target=watch, name="import-reader-watchdog", daemon=True).start()


def _drop_inherited_sockets() -> None:
    """/dev/null in place of each socket a forked child inherited (fd > 2): the
    parent's database connections are then held by the parent alone, and nothing
    here can write to them (a finaliser would send libpq's Terminate)."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:  # pragma: no cover - not Linux
        return
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for name in names:
            fd = int(name)
            if fd <= 2 or fd == null:
                continue
            try:
                if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                    os.dup2(null, fd, inheritable=False)
            except OSError:
                continue
    finally:
        os.close(null)


def _portable(exc: BaseException) -> BaseException:
    """`exc` if it survives pickling (with the child's traceback as a note), else a
    RuntimeError that says what it was."""
    trace = "".join(traceback.format_exception(exc))
    try:
        exc.add_note(f"In the reading process:\n{trace}")
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes: can it come back?
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
