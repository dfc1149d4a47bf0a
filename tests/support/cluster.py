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

These clusters live in memory (/dev/shm, a tmpfs) when the machine has one with room,
else under var/: a run copies and drops about 180 databases of ~18 MB, gigabytes of
files that need never reach a disk, and a copy on tmpfs takes a half to a fifth of the
kernel time it takes on ext4. A reboot empties /dev/shm: the next run makes the clusters and
their templates again, as on a fresh clone. Their settings (TEST_SETTINGS) are given at
each start, never to the project's own cluster.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import os
import secrets
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
SHM = Path("/dev/shm")
CHECKOUT_MARK = "checkout"  # in a home: the path of the checkout it serves
# Free room on the tmpfs, and memory available, below which the clusters stay under var/:
# a worker's cluster holds 200-550 MB during a run (a module's copies are dropped at its
# end, tests/conftest.py).
SHM_ROOM = 2 * 2**30
# What a test cluster's login costs the client (PostgreSQL's default is 4096).
SCRAM_ITERATIONS = 1
# What a test cluster trades for speed: nothing is flushed to the disk (test data need not
# survive a crash); a small buffer pool, since every copy's checkpoint and every DROP
# DATABASE walks all of it; no autovacuum, which forks a worker per database and
# minute for databases that live minutes, and whose ANALYZE would change the plans and
# hold the change feed's horizon back in the middle of a test; WAL only for crash
# recovery (no replication) and no background writer, the copies' checkpoints write.
TEST_SETTINGS = (
    ("fsync", "off"), ("synchronous_commit", "off"), ("full_page_writes", "off"),
    ("shared_buffers", "128MB"), ("autovacuum", "off"),
    ("wal_level", "minimal"), ("max_wal_senders", "0"), ("bgwriter_lru_maxpages", "0"),
)


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


def _memory_available() -> int:
    """MemAvailable of /proc/meminfo in bytes (0 when unknown): tmpfs pages are memory."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def in_memory_home(shm: Path = SHM, room: int = SHM_ROOM) -> Path | None:
    """The folder of this checkout's test clusters on the tmpfs `shm`
    (atlas-<hash of the checkout's path>), or None when they go under var/: no such
    tmpfs, not writable, or less than `room` free on it or in memory. A home already
    there is kept whatever the room, so a run never leaves its templates for new ones."""
    home = shm / f"atlas-{hashlib.sha256(str(PROJECT_ROOT).encode()).hexdigest()[:10]}"
    if home.is_dir():
        return home
    if not shm.is_dir() or not os.access(shm, os.W_OK | os.X_OK):
        return None
    stats = os.statvfs(shm)
    if stats.f_bavail * stats.f_frsize < room or _memory_available() < room:
        return None
    return home


def worker_cluster(worker: str) -> Cluster:
    """The cluster of pytest-xdist worker `worker` (gw0, gw1…): pg-gw0… in the
    in-memory home, else beside the project's own (var/pg-gw0…). It is kept between
    runs, with the template databases built in it, so a warm checkout builds none; the run
    starts it (`start_worker_cluster`) and stops it at the end."""
    home = None if os.environ.get("ATLAS_PGROOT") else _ready(in_memory_home())
    if home is not None:
        return Cluster(home / f"pg-{worker}", settings=TEST_SETTINGS)
    main = default_cluster()
    return Cluster(main.root.with_name(f"{main.root.name}-{worker}"), settings=TEST_SETTINGS)


def throwaway_home() -> Path:
    """Where a throwaway test cluster is made: the in-memory home, else var/."""
    return _ready(in_memory_home()) or PROJECT_ROOT / "var"


def _ready(home: Path | None) -> Path | None:
    """`home` made if missing, open to the server's user (`postgres` when we are root)
    whatever the umask, and naming its checkout (for `forget_orphans`)."""
    if home is not None:
        home.mkdir(exist_ok=True)
        home.chmod(0o755)
        mark = home / CHECKOUT_MARK
        if not mark.exists():
            mark.write_text(str(PROJECT_ROOT))
    return home


def forget_orphans(shm: Path = SHM) -> list[Path]:
    """Remove the in-memory homes whose checkout is gone (a deleted clone's): tmpfs is
    memory, which nothing else would give back before a reboot. A home whose cluster
    still runs, or that names no checkout, is left alone. The homes removed."""
    removed = []
    for home in sorted(shm.glob("atlas-*")) if shm.is_dir() else ():
        try:
            checkout = Path((home / CHECKOUT_MARK).read_text().strip())
        except OSError:
            continue
        if (checkout / "pyproject.toml").exists() or any(
                _running(pid_file) for pid_file in home.glob("*/data/postmaster.pid")):
            continue
        shutil.rmtree(home, ignore_errors=True)
        removed.append(home)
    return removed


def _running(pid_file: Path) -> bool:
    """Whether the postmaster of `pid_file` is alive."""
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def start_worker_cluster(worker: str) -> tuple[Cluster, str]:
    """Worker `worker`'s cluster, made if need be and started; and its database URL."""
    cluster = worker_cluster(worker)
    with _one_at_a_time():
        forget_orphans()
        url = cluster.ensure()
    with_quick_logins(url, cluster.password())
    return cluster, url


def with_quick_logins(url: str, password: str) -> None:
    """The role of `url` keeps its password, stored as a SCRAM verifier of
    SCRAM_ITERATIONS: the client derives the key from the password at each login with the
    server's count, 4096 by default, which cost each test process 3 ms of CPU a connection
    (a run opens about two thousand). The server's own check needs no derivation."""
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
    stored = hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest()
    server = hmac.new(salted, b"Server Key", "sha256").digest()
    verifier = (f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{_b64(salt)}"
                f"${_b64(stored)}:{_b64(server)}")
    conn = psycopg2.connect(url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("ALTER ROLE CURRENT_USER PASSWORD %s", (verifier,))
    finally:
        conn.close()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class ThrowawayCluster:
    """A cluster in the throwaway home (in memory, else var/), removed by close()."""

    def __init__(self) -> None:
        ensure_packages()
        self.root = throwaway_home() / f"test-cluster-{uuid.uuid4().hex[:8]}"
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

