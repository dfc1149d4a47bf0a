"""The project's own cluster: created, started, reachable with PostGIS, stopped."""

import shutil
import uuid

import psycopg2
import pytest

from app.localdb import PROJECT_ROOT, Cluster, LocalDbError, ensure_packages


def test_a_fresh_cluster_starts_serves_postgis_and_stops():
    ensure_packages()
    cluster = Cluster(PROJECT_ROOT / "var" / f"test-cluster-{uuid.uuid4().hex[:8]}")
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
        cluster.stop()
        assert not cluster.is_running()
        # A second ensure() restarts the same cluster with the same password.
        assert cluster.ensure().split("@")[0] == url.split("@")[0]
    finally:
        cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)


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
