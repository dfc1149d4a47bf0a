"""Helpers of the tests that run commands as a user would: processes, ports."""

from __future__ import annotations

import contextlib
import functools
import gc
import io
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup

from app.config import PROJECT_ROOT

ROOT = PROJECT_ROOT


def is_running(pid: int) -> bool:
    """Whether `pid` is alive (not gone, not a zombie), after a second's grace."""
    for _ in range(20):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        if state == "Z":
            return False
        time.sleep(0.1)
    return True


def child_pids(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def flask(*args: str, url: str, stdin: str = "",
          env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`flask ARGS` as a command run by a user or a timer: a process of its own, its exit
    status and what it wrote. The process is a fork of this one running Flask's command
    line (as `python -m flask` does), so it pays no Python start (2 s of CPU each); the
    tests of the interpreter's start itself run `python -m flask` (test_modes, test_cli)."""
    command = Forked(*args, url=url, stdin=stdin, env=env)
    out, err = command.communicate(timeout=300)
    return subprocess.CompletedProcess(["flask", *args], command.returncode, out, err)


class Forked:
    """A `flask` command in a forked process, with the parts of `subprocess.Popen` the
    tests use: pid, poll, wait, communicate, send_signal, kill, terminate, returncode.

    The child takes DATABASE_URL, FLASK_APP and `env` from the arguments, its standard streams
    from pipes, the default signal handlers, and a database session of its own (the
    parent's scoped session may be bound to a test's transaction); it ends with
    os._exit so that none of the parent's exit handlers (pytest's, xdist's) run twice."""

    def __init__(self, *args: str, url: str, stdin: str = "",
                 env: dict[str, str] | None = None, new_session: bool = False) -> None:
        """`new_session`: the child leads a process group of its own (as Popen's
        start_new_session), for tests that signal the group."""
        stdin_r, stdin_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        self.returncode: int | None = None
        group = _flask_group()  # made here, so that no child makes it again
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns
            if new_session:
                os.setsid()
            os.close(stdin_w), os.close(out_r), os.close(err_r)
            _run_flask_here(group, args, {**(env or {}), "DATABASE_URL": url}, stdin_r, out_w,
                            err_w)
        os.close(stdin_r), os.close(out_w), os.close(err_w)
        with os.fdopen(stdin_w, "w", encoding="utf-8") as handle:
            handle.write(stdin)
        self._out, self._err = os.fdopen(out_r, "rb"), os.fdopen(err_r, "rb")

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(["flask"], timeout)
            time.sleep(0.01)
        return self.returncode  # type: ignore[return-value]

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        chunks: dict[int, list[bytes]] = {self._out.fileno(): [], self._err.fileno(): []}
        deadline = None if timeout is None else time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            for stream in (self._out, self._err):
                selector.register(stream, selectors.EVENT_READ)
            while selector.get_map():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    self.kill()
                    raise subprocess.TimeoutExpired(["flask"], timeout)
                for key, _ in selector.select(left):
                    data = os.read(key.fd, 65536)
                    if data:
                        chunks[key.fd].append(data)
                    else:
                        selector.unregister(key.fileobj)
        self.wait()
        out, err = (b"".join(chunks[s.fileno()]).decode() for s in (self._out, self._err))
        self._out.close(), self._err.close()
        return out, err

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


@functools.cache
def _flask_group() -> FlaskGroup:
    """Flask's command line as `python -m flask` makes it, with the commands of installed
    packages (flask_limiter's) loaded once in this process, not imported by every child."""
    from app import create_app

    group = FlaskGroup(create_app=create_app)
    group.get_command(click.Context(group), "run")  # loads the packages' commands first
    return group


def _run_flask_here(group: FlaskGroup, args: tuple[str, ...], env: dict[str, str], stdin: int,
                    out: int, err: int) -> None:
    # The objects inherited from the test process are never garbage: a collection that
    # walked them all would touch (and so copy) every page shared with the parent.
    gc.freeze()
    code = 1
    try:
        for fd, target in ((stdin, 0), (out, 1), (err, 2)):
            os.dup2(fd, target)
            os.close(fd)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT
                          else signal.SIG_DFL)
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8",
                                      line_buffering=True)
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8",
                                      line_buffering=True)
        os.environ.update(env, FLASK_APP="app")
        os.chdir(ROOT)
        from app.extensions import db

        db.session = db._make_scoped_session({})  # not a test's, bound to its transaction
        try:
            group.main(args=list(args), prog_name="flask")
        except SystemExit as stop:  # as the interpreter ends: a message is printed, status 1
            if stop.code is None or isinstance(stop.code, int):
                code = stop.code or 0
            else:
                print(stop.code, file=sys.stderr)
        else:
            code = 0
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


@dataclass
class CliResult:
    """What `flask` gives, for a command run in this process (the same Click command)."""

    returncode: int
    stdout: str
    stderr: str


def cli(app: Flask, *args: str, stdin: str = "") -> CliResult:
    """A `flask` command run in this process: the command's own code without a Python start
    (1.7 s of CPU each); `flask()` keeps the subprocess for tests of the command line itself."""
    result = app.test_cli_runner().invoke(args=list(args), input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return CliResult(result.exit_code, result.stdout, result.stderr)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
