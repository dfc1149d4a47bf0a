"""Helpers of the tests that run commands as a user would: processes, ports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

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


def flask(*args: str, url: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLASK_APP": "app", "DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "flask", *args], input=stdin, env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


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
