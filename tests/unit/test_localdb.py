"""The project's own cluster: created, started, reachable with PostGIS, stopped; the
templates test databases are copied from."""

import os
import shutil
import socket
import uuid
from pathlib import Path
from urllib.parse import quote

import psycopg2
import pytest

from app.localdb import (
    PROJECT_ROOT,
    Cluster,
    LocalDbError,
    ThrowawayDatabases,
    ensure_packages,
    fingerprint,
    libpq_url,
)
from tests.support.cluster import (
    CHECKOUT_MARK,
    TEST_SETTINGS,
    forget_orphans,
    in_memory_home,
    start_worker_cluster,
    throwaway_home,
    time_wait_sockets,
    without_waiting_on_the_disk,
    worker_cluster,
)


def test_a_fresh_cluster_starts_serves_postgis_and_stops():
    ensure_packages()
    cluster = Cluster(throwaway_home() / f"test-cluster-{uuid.uuid4().hex[:8]}")
    try:
        url = cluster.ensure()
        assert cluster.is_running()
        assert url.startswith("postgresql://atlas:") and "@127.0.0.1:" in url
        conn = psycopg2.connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT default_version FROM pg_available_extensions "
                            "WHERE name = 'postgis'")
                assert cur.fetchone()[0].startswith("3.")
                cur.execute("SHOW listen_addresses")
                assert cur.fetchone()[0] == "127.0.0.1"
        finally:
            conn.close()
        assert cluster.password_file.stat().st_mode & 0o077 == 0
        _copies_without_a_flush_only_where_the_server_does_not_fsync(url)
        cluster.stop()
        assert not cluster.is_running()
        # A second ensure() restarts the same cluster with the same password.
        assert cluster.ensure().split("@")[0] == url.split("@")[0]
        assert _setting(url, "autovacuum") == "on"
        # Settings of a Cluster are given at each start; the project's cluster has none.
        cluster.stop()
        Cluster(cluster.root, settings=(("autovacuum", "off"),)).ensure()
        assert _setting(url, "autovacuum") == "off"
    finally:
        cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)


def _setting(url: str, name: str) -> str:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SHOW {name}")  # our names
            return cur.fetchone()[0]
    finally:
        conn.close()


def _filesystem(path: str) -> str:
    """The type of the filesystem `path` is on (the longest mount point above it)."""
    best, kind = "", ""
    for line in Path("/proc/mounts").read_text().splitlines():
        mount, fstype = line.split()[1:3]
        if (path == mount or path.startswith(mount.rstrip("/") + "/")) and len(mount) > len(best):
            best, kind = mount, fstype
    return kind


def test_a_workers_cluster_is_in_memory_when_there_is_room_with_the_test_settings():
    """A test worker's cluster is in the in-memory home (on tmpfs) when the machine has
    one with room, else under var/; it runs with TEST_SETTINGS (fsync off, a small buffer
    pool, no autovacuum…)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    was_running = worker_cluster(worker).is_running()
    cluster, url = start_worker_cluster(worker)
    try:
        data = _setting(url, "data_directory")
        home = in_memory_home()
        if home is not None:
            assert data == str(home / f"pg-{worker}" / "data")
            assert _filesystem(data) == "tmpfs"
        else:
            assert data == str(PROJECT_ROOT / "var" / f"pg-{worker}" / "data")
        for name, value in TEST_SETTINGS:
            assert _setting(url, name) == value, name
        # Logins need the password still, checked at one SCRAM iteration.
        conn = psycopg2.connect(url)
        with conn.cursor() as cur:
            cur.execute("SELECT rolpassword FROM pg_authid WHERE rolname = current_user")
            assert cur.fetchone()[0].startswith("SCRAM-SHA-256$1:")
        conn.close()
        wrong = url.replace(quote(cluster.password(), safe=""), "not-the-password")
        assert wrong != url
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            psycopg2.connect(wrong)
    finally:
        if not was_running:
            cluster.stop()


def test_the_in_memory_home_needs_a_writable_tmpfs_with_room_and_is_then_kept(tmp_path):
    """The clusters go to /dev/shm only with room there and in memory; once a home is
    there it is kept (its templates), and after a reboot emptied it, made again."""
    assert in_memory_home(tmp_path / "absent", room=1) is None
    assert in_memory_home(tmp_path, room=2**62) is None
    home = in_memory_home(tmp_path, room=1)
    assert home is not None and home.parent == tmp_path and not home.exists()
    home.mkdir()
    assert in_memory_home(tmp_path, room=2**62) == home
    home.rmdir()  # a reboot
    assert in_memory_home(tmp_path, room=2**62) is None


def test_a_deleted_checkouts_home_in_memory_is_given_back(tmp_path):
    """A clone deleted after its run leaves its clusters in /dev/shm, which is memory:
    the next run of any checkout removes that home, but never one whose checkout is there,
    whose cluster runs, or that names no checkout."""
    def home(name: str, checkout: Path | None, pid: int | None = None) -> Path:
        folder = tmp_path / "shm" / name
        (folder / "pg-gw0" / "data").mkdir(parents=True)
        if checkout is not None:
            (folder / CHECKOUT_MARK).write_text(str(checkout))
        if pid is not None:
            (folder / "pg-gw0" / "data" / "postmaster.pid").write_text(f"{pid}\n/x\n")
        return folder

    alive = tmp_path / "clone"
    alive.mkdir()
    (alive / "pyproject.toml").write_text("")
    gone = tmp_path / "deleted-clone"
    orphan = home("atlas-orphan", gone)
    kept = [home("atlas-live", alive), home("atlas-running", gone, pid=os.getpid()),
            home("atlas-unnamed", None)]
    assert forget_orphans(tmp_path / "shm") == [orphan]
    assert not orphan.exists() and all(k.is_dir() for k in kept)
    assert forget_orphans(tmp_path / "absent") == []


def _copies_without_a_flush_only_where_the_server_does_not_fsync(url: str) -> None:
    """A checkpoint per copy (FILE_COPY) on a server that fsyncs would flush it all to
    disk: that server gets WAL_LOG; a test cluster (fsync off) gets the faster FILE_COPY,
    and the copy holds the template's rows."""
    def strategy() -> str:
        pool = ThrowawayDatabases(url)
        conn = pool._admin()
        try:
            with conn.cursor() as cur:
                return pool._strategy(cur)
        finally:
            conn.close()

    assert strategy() == "WAL_LOG"
    without_waiting_on_the_disk(url)
    assert strategy() == "FILE_COPY"
    with ThrowawayDatabases(url) as pool:
        source = pool.create("source")
        conn = psycopg2.connect(source)
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE kept (v text); INSERT INTO kept VALUES ('copied')")
        conn.close()
        copy = pool.create("copy", template=pool.created[-1])
        conn = psycopg2.connect(copy)
        with conn.cursor() as cur:
            cur.execute("SELECT v FROM kept")
            assert cur.fetchall() == [("copied",)]
        conn.close()


def test_a_folder_that_is_not_a_cluster_is_not_overwritten(tmp_path):
    root = PROJECT_ROOT / "var" / f"test-junk-{uuid.uuid4().hex[:8]}"
    (root / "data").mkdir(parents=True)
    (root / "data" / "precious.txt").write_text("keep me")
    try:
        with pytest.raises(LocalDbError, match="holds no usable cluster"):
            Cluster(root).ensure()
        assert (root / "data" / "precious.txt").read_text() == "keep me"
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _names(pool, pattern: str) -> set[str]:
    conn = pool._admin()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (pattern,))
            return {name for (name,) in cur.fetchall()}
    finally:
        conn.close()


def _rows(url: str) -> list[str]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT note FROM probe ORDER BY note")
            return [note for (note,) in cur.fetchall()]
    finally:
        conn.close()


def test_a_template_is_built_once_per_fingerprint_and_never_half_built():
    """Copies come from a template built once for a fingerprint; a new fingerprint builds a
    new one and drops the old; a build that fails leaves no template behind."""
    label = f"probe{uuid.uuid4().hex[:6]}"
    builds: list[str] = []

    def build(url: str, note: str = "first") -> None:
        builds.append(note)
        conn = psycopg2.connect(url)
        try:
            with conn, conn.cursor() as cur:
                cur.execute("CREATE TABLE probe (note text)")
                cur.execute("INSERT INTO probe VALUES (%s)", (note,))
        finally:
            conn.close()

    def broken(url: str) -> None:
        build(url, "broken")
        raise RuntimeError("the build failed half-way")

    with ThrowawayDatabases() as pool:
        try:
            first = pool.template(label, "a" * 64, build)
            assert pool.template(label, "a" * 64, build) == first
            assert builds == ["first"]
            copy = pool.create("copy", template=first)
            assert _rows(copy) == ["first"]
            with pytest.raises(psycopg2.OperationalError, match="not currently accepting"):
                psycopg2.connect(libpq_url(pool.url, first))

            with pytest.raises(RuntimeError, match="half-way"):
                pool.template(label, "b" * 64, broken)
            assert _names(pool, f"atlas_tpl_{label}%") == {first}

            second = pool.template(label, "c" * 64, lambda url: build(url, "second"))
            assert second != first and builds == ["first", "broken", "second"]
            assert _names(pool, f"atlas_tpl_{label}%") == {second}
            assert _rows(pool.create("copy", template=second)) == ["second"]
        finally:
            conn = pool._admin()
            with conn.cursor() as cur:
                for name in _names(pool, f"atlas_tpl_{label}%"):
                    cur.execute(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE false')
                    cur.execute(f'DROP DATABASE "{name}"')
            conn.close()


def test_the_fingerprint_follows_file_names_contents_and_the_extra_text(tmp_path):
    (tmp_path / "a.sql").write_text("one")
    before = fingerprint(tmp_path, extra="build v1")
    assert fingerprint(tmp_path, extra="build v1") == before
    assert fingerprint(tmp_path, extra="build v2") != before
    (tmp_path / "a.sql").write_text("two")
    assert fingerprint(tmp_path, extra="build v1") != before

def test_stop_and_start_keep_the_port_while_time_wait_sockets_remain(own_cluster):
    """A server stopped under load closes its connections first, which leaves its side of
    each in TIME-WAIT on its port; the app holds that port in its URL, so the next start
    must take it again (PostgreSQL binds with SO_REUSEADDR: those sockets do not stop it)."""
    port = own_cluster.port
    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(4)]
    own_cluster.stop()
    for sock in clients:  # they close after the server did, without sending: no reset
        sock.close()
    assert time_wait_sockets(port) > 0
    result = own_cluster.start()
    assert own_cluster.port == port
    assert f"127.0.0.1:{port}" in result.stdout
    psycopg2.connect(own_cluster.url()).close()


def test_a_port_another_program_listens_on_is_changed_and_said(own_cluster):
    port = own_cluster.port
    own_cluster.stop()
    squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do
    try:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        result = own_cluster.start()
    finally:
        squatter.close()
    assert own_cluster.port != port
    warning = result.stderr
    assert f"{port}" in warning and f"{own_cluster.port}" in warning
    assert "restart" in warning.lower()
    psycopg2.connect(own_cluster.url()).close()


def test_the_local_cluster_sizes_its_shared_buffers_to_the_machine(own_cluster):
    from app.localdb import shared_buffers_mb

    expected = shared_buffers_mb()
    assert 128 <= expected <= 1024
    with psycopg2.connect(own_cluster.url()) as conn, conn.cursor() as cur:
        cur.execute("SELECT setting::bigint * 8 / 1024 FROM pg_settings "
                    "WHERE name = 'shared_buffers'")
        assert cur.fetchone()[0] == expected
    conn.close()


def test_copies_are_made_on_one_kept_connection_which_a_restart_does_not_break(own_cluster):
    """A login per copy cost a backend start on both sides: create() keeps its admin
    connection, makes a new one when the server was restarted, and drop_all closes it."""
    pool = ThrowawayDatabases(own_cluster.url())
    try:
        pool.create("kept")
        backend = pool._creating.get_backend_pid()
        pool.create("kept", template=pool.created[0])
        assert pool._creating.get_backend_pid() == backend
        own_cluster.stop()
        own_cluster.start()
        copy = pool.create("kept", template=pool.created[0])
        assert pool._creating.get_backend_pid() != backend
        psycopg2.connect(copy).close()
    finally:
        pool.drop_all()
    assert pool._creating is None
    assert _names(pool, "atlas\\_kept\\_%") == set()
