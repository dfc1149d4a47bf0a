"""PostgreSQL clusters of the tests' own, made by app.localdb: one per pytest-xdist worker,
and one that tests may stop and start.

Each worker has a server of its own (`worker_cluster`) rather than its own databases on
a shared one: the change feed's horizon is the server's oldest running transaction,
so a long import in one worker would hold back the feed another worker's test reads.

The fault tests stop the database under a live app and start it again with the
project's own command (`python -m app.localdb stop|start`, pointed at this cluster
by ATLAS_PGROOT), so they need a server no other test shares. initdb costs a few
seconds: the session makes one (tests/conftest.py's `own_cluster`). Its port is not
the first free one from app.localdb.FIRST_PORT, where a cluster made
by another test (tests/unit/test_localdb.py, perhaps in another pytest-xdist worker)
looks for one: while this one is stopped, that one would take its port. Nor is it in
Linux's ephemeral range (32768-60999), where any program's port-0 listener (our live
servers) may land. Each worker looks from a port of its own, below that range.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2

from app.localdb import PROJECT_ROOT, Cluster, _free_port, default_cluster, ensure_packages

# Below the ephemeral ports and app.localdb's range; 100 per xdist worker.
OWN_PORTS = 25432
# Held while a test cluster is made or started: two made at once by two workers (on a
# fresh clone) would otherwise both take the first free port, and one fail to start.
LOCK_FILE = PROJECT_ROOT / "var" / ".test-clusters.lock"


@contextmanager
def _one_at_a_time() -> Iterator[None]:
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with LOCK_FILE.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def _worker_number() -> int:
    """0 for gw0 (or without pytest-xdist), 1 for gw1…"""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker[2:]) if worker[2:].isdigit() else 0


def without_waiting_on_the_disk(url: str) -> None:
    """fsync, synchronous_commit and full_page_writes off on the server of `url`: a test
    cluster need not survive a crash of the machine, and its commits and checkpoints (at
    every stop and DROP DATABASE) then wait for no disk flush. Never done to the
    project's own cluster."""
    conn = psycopg2.connect(url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                cur.execute(f"ALTER SYSTEM SET {setting} = off")
            cur.execute("SELECT pg_reload_conf()")
    finally:
        conn.close()
    # The reload is a signal the postmaster handles a moment later: until then a new
    # session still reads fsync = on (and ThrowawayDatabases would copy the slow way).
    for _ in range(500):
        conn = psycopg2.connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW fsync")
                if cur.fetchone()[0] == "off":
                    return
        finally:
            conn.close()
        time.sleep(0.01)
    raise RuntimeError(f"fsync still on at {url} 5 s after the reload")


def worker_cluster(worker: str) -> Cluster:
    """The cluster of pytest-xdist worker `worker` (gw0, gw1…), beside the project's own
    (var/pg-gw0…). It is kept between runs, with the template databases built in it, so
    a warm checkout builds none; the run starts it (`start_worker_cluster`) and stops it
    at the end."""
    main = default_cluster()
    return Cluster(main.root.with_name(f"{main.root.name}-{worker}"))


def start_worker_cluster(worker: str) -> tuple[Cluster, str]:
    """Worker `worker`'s cluster, made if need be and started; and its database URL."""
    cluster = worker_cluster(worker)
    with _one_at_a_time():
        url = cluster.ensure()
    without_waiting_on_the_disk(url)
    return cluster, url


class ThrowawayCluster:
    """A cluster under var/ (as the existing localdb test makes), removed by close()."""

    def __init__(self) -> None:
        ensure_packages()
        self.root = PROJECT_ROOT / "var" / f"test-cluster-{uuid.uuid4().hex[:8]}"
        self.cluster = Cluster(self.root)
        with _one_at_a_time():
            self.cluster.init()
            port = _free_port(OWN_PORTS + 100 * _worker_number())
            self.cluster.port_file.write_text(f"{port}\n")
            self.cluster.ensure()
        without_waiting_on_the_disk(self.url())

    @property
    def port(self) -> int:
        return self.cluster.port()

    def url(self, database: str = "postgres") -> str:
        return self.cluster.url(database)

    def command(self, action: str) -> subprocess.CompletedProcess[str]:
        """`python -m app.localdb <action>` on this cluster, as a person would run it."""
        env = {**os.environ, "ATLAS_PGROOT": str(self.root)}
        return subprocess.run([sys.executable, "-m", "app.localdb", action], env=env,
                              cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
                              check=False)

    def stop(self) -> None:
        result = self.command("stop")
        assert result.returncode == 0, result.stderr
        assert not self.cluster.is_running()

    def start(self) -> subprocess.CompletedProcess[str]:
        result = self.command("start")
        assert result.returncode == 0, result.stderr
        return result

    def close(self) -> None:
        self.cluster.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def time_wait_sockets(port: int) -> int:
    """How many TCP sockets of local port `port` are in TIME-WAIT (Linux /proc/net/tcp)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            if int(local.rsplit(":", 1)[1], 16) == port and state == "06":
                count += 1
    return count

