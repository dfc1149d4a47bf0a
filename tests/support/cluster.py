"""A PostgreSQL cluster of the tests' own, made by app.localdb, that tests may stop and start.

The fault tests stop the database under a live app and start it again with the
project's own command (`python -m app.localdb stop|start`, pointed at this cluster
by ATLAS_PGROOT), so they need a server no other test shares. initdb costs a few
seconds: the session makes one (tests/conftest.py's `own_cluster`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from app.localdb import PROJECT_ROOT, Cluster, ensure_packages


class ThrowawayCluster:
    """A cluster under var/ (as the existing localdb test makes), removed by close()."""

    def __init__(self) -> None:
        ensure_packages()
        self.root = PROJECT_ROOT / "var" / f"test-cluster-{uuid.uuid4().hex[:8]}"
        self.cluster = Cluster(self.root)
        self.cluster.ensure()

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

