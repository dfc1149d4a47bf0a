"""Scheduled jobs (`flask jobs run NAME`, as the systemd timers run them): each kind runs
and is recorded, two runs of one job never overlap, failures say why and exit non-zero,
exports are published whole, backups rotate; the admins' page lists the runs.

The jobs run as a timer runs them: `flask jobs run` in a process of its own (a fork: see
tests.support.processes.flask), against a
database of its own, a jobs file given by ATLAS_JOBS_FILE, and real servers (a replayed
Overpass answer, a CSV over HTTP, another instance for a sync pull, SMTP).
"""

from __future__ import annotations

import functools
import io
import json
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from app.extensions import db
from app.jobs.lock import job_lock
from app.models import Entry, ImportRun, JobRun, Proposal, Source
from importers.osm_overpass import default_area
from tests.conftest import LiveServer, make_app
from tests.support.editor import PASSWORD, login
from tests.support.importer import MAPPING, write_csv
from tests.support.overpass import OverpassReplay
from tests.support.processes import Forked, cli, flask
from tests.support.serving import serving

SKIPPED_EXIT = 75  # EX_TEMPFAIL: another run holds the job's lock


def _jobs_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "jobs.toml"
    path.write_text(body, encoding="utf-8")
    return path


@pytest.fixture
def jobs_env(monkeypatch, tmp_path):
    """Sets ATLAS_JOBS_FILE (for the `flask` processes) to a file of the given text."""
    def use(body: str) -> Path:
        path = _jobs_file(tmp_path, body)
        monkeypatch.setenv("ATLAS_JOBS_FILE", str(path))
        return path
    return use


def in_process(url: str, *args: str):
    """A `jobs` command that runs no job (list, or refused settings) in this process, on an
    app made now (the jobs file is read from the environment then): no Python start."""
    app = make_app(url)
    try:
        return cli(app, *args)
    finally:
        with app.app_context():
            db.engine.dispose()


@functools.cache
def _reader(url: str) -> Flask:
    """One app per database for reading what the commands wrote: making one costs a tenth
    of a second of CPU, and a test reads a dozen times (connections closed after each)."""
    return make_app(url)


def _runs(url: str, name: str | None = None) -> list[dict]:
    """job_runs, read with plain SQL in a connection of the test's own."""
    app = _reader(url)
    with app.app_context():
        sql = "SELECT * FROM job_runs" + (" WHERE name = :name" if name else "") + " ORDER BY id"
        rows = [dict(r._mapping) for r in db.session.execute(text(sql), {"name": name})]
        db.session.remove()
        db.engine.dispose()
    return rows


def _held(overpass: OverpassReplay, process: Forked) -> None:
    """Wait until `process` asks Overpass (its run is then under way, holding the lock)."""
    while not overpass.arrived.wait(0.2):
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"the job ended before asking Overpass:\n{out}{err}")


def _popen(*args: str, url: str) -> Forked:
    return Forked(*args, url=url)


# -- one run at a time ---------------------------------------------------------------------

def test_two_runs_of_one_job_never_overlap(databases, jobs_env):
    url = databases.migrated("jobs_lock")
    with OverpassReplay(held=True) as overpass:
        jobs_env(f'[jobs.osm]\nkind = "refresh-source"\noverpass = "{overpass.url}"\n'
                 '[jobs.digest]\nkind = "digest"\n')
        first = _popen("jobs", "run", "osm", url=url)
        try:
            _held(overpass, first)
            # The first run holds the lock while Overpass answers: a second is refused.
            second = flask("jobs", "run", "osm", url=url)
            assert second.returncode == SKIPPED_EXIT, second.stdout + second.stderr
            assert "osm is already running" in second.stderr
            # Another job is not held back by it.
            other = flask("jobs", "run", "digest", url=url)
            assert other.returncode == 0, other.stderr
        finally:
            overpass.release()
            out, err = first.communicate(timeout=120)
        assert first.returncode == 0, out + err
    assert len(overpass.queries) == 1  # the refused run asked nothing
    runs = _runs(url, "osm")
    assert [r["outcome"] for r in runs] == ["succeeded", "skipped"]
    done, skipped = runs
    assert "already running" in skipped["message"] and skipped["import_run_id"] is None
    assert skipped["kind"] == "refresh-source" and skipped["finished_at"] is not None
    assert done["import_run_id"] is not None and done["finished_at"] >= skipped["finished_at"]
    assert "created: " in done["message"]


def test_a_run_stopped_by_systemd_says_so(databases, jobs_env):
    url = databases.migrated("jobs_stopped")
    with OverpassReplay(held=True) as overpass:
        jobs_env(f'[jobs.osm]\nkind = "refresh-source"\noverpass = "{overpass.url}"\n')
        first = _popen("jobs", "run", "osm", url=url)
        _held(overpass, first)
        first.terminate()  # SIGTERM, as `systemctl stop` and TimeoutStartSec send
        first.communicate(timeout=30)
    assert first.returncode == 143
    [stopped] = _runs(url, "osm")
    assert stopped["outcome"] == "failed" and stopped["finished_at"] is not None
    assert stopped["message"] == "interrupted: stopped by SIGTERM"


def test_a_run_killed_midway_frees_the_lock_and_is_marked_failed(databases, jobs_env):
    url = databases.migrated("jobs_killed")
    with OverpassReplay(held=True) as overpass:
        jobs_env(f'[jobs.osm]\nkind = "refresh-source"\noverpass = "{overpass.url}"\n')
        first = _popen("jobs", "run", "osm", url=url)
        _held(overpass, first)
        assert [r["outcome"] for r in _runs(url, "osm")] == ["running"]  # seen under way
        first.kill()  # its connection, and so its lock, goes with it
        first.communicate(timeout=30)
        overpass.release()
        again = flask("jobs", "run", "osm", url=url)
        assert again.returncode == 0, again.stderr
    killed, done = _runs(url, "osm")
    assert killed["outcome"] == "failed" and "interrupted" in killed["message"]
    assert done["outcome"] == "succeeded"


# -- each kind -----------------------------------------------------------------------------

def test_refresh_source_reimports_an_overpass_area(databases, jobs_env):
    url = databases.demo("jobs_overpass")
    with OverpassReplay() as overpass:
        jobs_env(f'[jobs.osm]\nkind = "refresh-source"\noverpass = "{overpass.url}"\n'
                 'full = true\n')
        first = flask("jobs", "run", "osm", url=url)
        second = flask("jobs", "run", "osm", url=url)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    area = default_area()  # the mapping's territory: no area given
    assert f"({area.min_lat},{area.min_lon},{area.max_lat},{area.max_lon})" in overpass.queries[0]
    runs = _runs(url, "osm")
    assert [r["outcome"] for r in runs] == ["succeeded", "succeeded"]
    app = _reader(url)
    with app.app_context():
        imports = [db.session.get(ImportRun, r["import_run_id"]) for r in runs]
        assert [i.origin for i in imports] == ["osm", "osm"]
        assert imports[0].created > 0 and imports[1].created == 0, [r["message"] for r in runs]
        assert imports[1].unchanged == imports[0].created  # a refresh, not a second copy
        assert imports[0].location == overpass.url
        db.session.remove()
        db.engine.dispose()


def test_refresh_source_reads_a_csv_url_with_its_mapping(databases, jobs_env, tmp_path):
    url = databases.demo("jobs_csv")
    served = tmp_path / "www"
    served.mkdir()
    write_csv(served / "lieux.csv", [
        ["TL-1", "Tiers-lieu", "La Fabrique", "1 rue A", "59000", "Lille", "50,63", "3,06",
         "", "coworking"],
        ["TL-2", "Tiers-lieu", "Le Jardin", "2 rue B", "59000", "Lille", "50,64", "3,07",
         "", ""]])
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 partial(SimpleHTTPRequestHandler, directory=str(served)))
    threading.Thread(target=serving(server), daemon=True).start()
    csv_url = f"http://127.0.0.1:{server.server_port}/lieux.csv"
    try:
        jobs_env(f'[jobs.tiers-lieux]\nkind = "refresh-source"\ncsv = "{csv_url}"\n'
                 f'mapping = "{MAPPING}"\n'
                 f'[jobs.missing]\nkind = "refresh-source"\ncsv = "{csv_url}x"\n'
                 f'mapping = "{MAPPING}"\n')
        ran = flask("jobs", "run", "tiers-lieux", url=url)
        gone = flask("jobs", "run", "missing", url=url)
    finally:
        server.shutdown()
        server.server_close()
    assert ran.returncode == 0, ran.stderr
    assert gone.returncode == 1 and "HTTP 404" in gone.stderr
    [run] = _runs(url, "tiers-lieux")
    assert run["outcome"] == "succeeded" and "created: 2" in run["message"]
    [failed] = _runs(url, "missing")
    assert failed["outcome"] == "failed" and "HTTP 404" in failed["message"]
    app = _reader(url)
    with app.app_context():
        imported = db.session.get(ImportRun, run["import_run_id"])
        assert imported.location == csv_url and imported.created == 2
        assert db.session.scalar(select(func.count()).select_from(Source).where(
            Source.external_id.in_(["TL-1", "TL-2"]))) == 2
        db.session.remove()
        db.engine.dispose()


def test_sync_pull_job_follows_another_instance(databases, jobs_env):
    remote_app = make_app(databases.demo("jobs_remote"))
    url = databases.migrated("jobs_pull")
    with LiveServer(remote_app) as remote:
        jobs_env(f'[jobs.pull]\nkind = "sync-pull"\nurl = "{remote.url}"\nname = "voisin"\n')
        ran = flask("jobs", "run", "pull", url=url)
    assert ran.returncode == 0, ran.stderr
    [run] = _runs(url, "pull")
    assert run["outcome"] == "succeeded" and run["kind"] == "sync-pull"
    with remote_app.app_context():
        published = db.session.scalar(select(func.count()).select_from(Entry).where(
            Entry.deleted_at.is_(None), Entry.moderation == "published"))
        db.session.remove()
        db.engine.dispose()
    app = _reader(url)
    with app.app_context():
        pulled = db.session.get(ImportRun, run["import_run_id"])
        assert pulled.origin == "remote:voisin" and pulled.created == published > 0
        assert f"created: {published}" in run["message"]
        db.session.remove()
        db.engine.dispose()


def test_digest_job_mails_the_editors(databases, jobs_env, monkeypatch):
    from app.services.proposals import SUGGESTION_LABEL, propose_entry
    from app.services.revisions import Author
    from app.services.users import create_user
    from tests.support.smtp import SmtpServer

    url = databases.demo("jobs_digest")
    app = make_app(url)
    with app.app_context():
        create_user("ed@example.org", PASSWORD, "editor", "Ed")
        propose_entry({"name": "Café des voisins", "kind": "third_place", "city": "Lille"},
                      author=Author(label=SUGGESTION_LABEL))
        pending = db.session.scalar(select(func.count()).select_from(Proposal).where(
            Proposal.state == "pending"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    assert pending > 0
    jobs_env('[jobs.reminders]\nkind = "digest"\n')
    monkeypatch.setenv("ATLAS_BASE_URL", "https://atlas.example.org")
    with SmtpServer() as smtp:
        monkeypatch.setenv("ATLAS_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("ATLAS_SMTP_PORT", str(smtp.port))
        ran = flask("jobs", "run", "reminders", url=url)
        assert ran.returncode == 0, ran.stderr
        [mail] = smtp.inbox.wait_for("ed@example.org")
    assert "https://atlas.example.org/editor/proposals/" in mail.get_body().get_content()
    [run] = _runs(url, "reminders")
    assert run["outcome"] == "succeeded" and run["kind"] == "digest"
    assert f"{pending} pending" in run["message"]


def test_a_failing_job_records_why_and_exits_non_zero(databases, jobs_env, monkeypatch,
                                                      tmp_path):
    url = databases.migrated("jobs_fail")
    monkeypatch.delenv("ATLAS_BASE_URL", raising=False)
    jobs_env('[jobs.osm]\nkind = "refresh-source"\n'
             'overpass = "http://127.0.0.1:9/api/interpreter"\nretries = 0\n'
             f'[jobs.exports]\nkind = "publish-exports"\nfolder = "{tmp_path / "public"}"\n')
    ran = flask("jobs", "run", "osm", url=url)
    assert ran.returncode == 1
    assert "did not answer" in ran.stderr
    [run] = _runs(url, "osm")
    assert run["outcome"] == "failed" and "did not answer" in run["message"]
    assert run["finished_at"] is not None
    # Files for the public with links to nowhere are not published.
    unaddressed = flask("jobs", "run", "exports", url=url)
    assert unaddressed.returncode == 1 and "ATLAS_BASE_URL" in unaddressed.stderr
    [run] = _runs(url, "exports")
    assert run["outcome"] == "failed" and "base_url" in run["message"]
    assert not (tmp_path / "public").exists()


def test_unknown_jobs_and_bad_settings_are_named(databases, jobs_env):
    url = databases.migrated("jobs_bad")
    jobs_env('[jobs.nightly]\nkind = "backup"\nkeep = 0\n')
    bad = flask("jobs", "run", "nightly", url=url)  # as a timer runs it
    assert bad.returncode == 2
    assert "jobs.nightly" in bad.stderr and "keep" in bad.stderr
    jobs_env('[jobs.exports]\nkind = "publish-exports"\nfolder = "/tmp/x"\nformat = ["csv"]\n')
    typo = in_process(url, "jobs", "list")
    assert typo.returncode == 2 and "jobs.exports" in typo.stderr and "'format'" in typo.stderr
    jobs_env('[jobs.osm]\nkind = "refresh-source"\nmapping = "x.toml"\n')
    neither = in_process(url, "jobs", "list")
    assert neither.returncode == 2 and "overpass" in neither.stderr and "csv" in neither.stderr
    jobs_env('[jobs.digest]\nkind = "digest"\n')
    unknown = in_process(url, "jobs", "run", "nope")
    assert unknown.returncode == 2 and "nope" in unknown.stderr and "digest" in unknown.stderr
    assert _runs(url) == []


def test_jobs_list_shows_each_job_and_its_last_run(databases, jobs_env):
    url = databases.migrated("jobs_list")
    jobs_env('[jobs.reminders]\nkind = "digest"\n')
    assert flask("jobs", "run", "reminders", url=url).returncode == 0
    listed = in_process(url, "jobs", "list")
    assert listed.returncode == 0, listed.stderr
    lines = {line.split("\t")[0]: line for line in listed.stdout.splitlines()}
    assert "digest" in lines["reminders"] and "succeeded" in lines["reminders"]
    assert "backup" in lines["backup"] and "never run" in lines["backup"]  # built in


# -- publish-exports -----------------------------------------------------------------------

def test_publish_exports_replaces_each_file_whole(databases, jobs_env, tmp_path):
    from app.exports import FORMATS

    url = databases.demo("jobs_publish")
    public = tmp_path / "public"
    jobs_env(f'[jobs.exports]\nkind = "publish-exports"\nfolder = "{public}"\n'
             'base_url = "https://atlas.example.org"\n')
    first = flask("jobs", "run", "exports", url=url)
    assert first.returncode == 0, first.stderr
    names = sorted(f.filename for f in FORMATS.values())
    assert sorted(p.name for p in public.iterdir()) == names  # no temporary file left
    geojson = public / "atlas-entries.geojson"
    package = public / "atlas-datapackage.zip"
    old_text = geojson.read_bytes()
    assert json.loads(old_text)["type"] == "FeatureCollection"
    assert oct(geojson.stat().st_mode & 0o777) == oct(0o644)  # public, whatever the umask

    # A reader holding the old file, and one reading again and again during the run.
    held = geojson.open("rb")
    old_inode = geojson.stat().st_ino
    seen: list[str] = []
    stop = threading.Event()

    def read_while_publishing() -> None:
        while not stop.is_set():
            try:
                json.loads(geojson.read_bytes())
                with zipfile.ZipFile(package) as archive:
                    assert archive.testzip() is None
                seen.append("whole")
            except Exception as exc:
                seen.append(f"{type(exc).__name__}: {exc}")

    reader = threading.Thread(target=read_while_publishing)
    reader.start()
    try:
        second = flask("jobs", "run", "exports", url=url)
    finally:
        stop.set()
        reader.join()
    assert second.returncode == 0, second.stderr
    assert seen and set(seen) == {"whole"}, [s for s in seen if s != "whole"][:3]
    # Replaced by a rename: a new file; the old one, still open, is whole and unchanged.
    assert geojson.stat().st_ino != old_inode
    assert held.read() == old_text
    held.close()
    assert sorted(p.name for p in public.iterdir()) == names
    [_, run] = _runs(url, "exports")
    assert run["outcome"] == "succeeded"
    assert all(name in run["message"] for name in names)


# -- backup --------------------------------------------------------------------------------

def test_backup_job_keeps_the_newest_n(databases, jobs_env, tmp_path):
    url = databases.migrated("jobs_backup")
    folder = tmp_path / "backups"
    folder.mkdir()
    database = url.rsplit("/", 1)[1].split("?")[0]
    older = [folder / f"atlas-{database}-2020010{d}T031500Z.dump" for d in (1, 2, 3)]
    for path in older:
        path.write_bytes(b"PGDMP old")
        path.with_name(path.stem + ".datapackage.zip").write_bytes(b"PK old")
    others = [folder / "atlas-another-20190101T000000Z.dump", folder / "notes.txt"]
    for path in others:
        path.write_text("not ours to delete")
    jobs_env(f'[jobs.nightly]\nkind = "backup"\nkeep = 2\nfolder = "{folder}"\n')
    ran = flask("jobs", "run", "nightly", url=url)
    assert ran.returncode == 0, ran.stderr
    kept = sorted(folder.glob(f"atlas-{database}-*.dump"))
    assert len(kept) == 2 and kept[0] == older[-1]
    new = kept[1]
    assert new.read_bytes().startswith(b"PGDMP") and new.stat().st_size > 1000
    assert all(path.exists() for path in others)
    [run] = _runs(url, "nightly")
    assert run["outcome"] == "succeeded" and new.name in run["message"]
    assert "2 removed" in run["message"]
    # Each dump kept has its data package beside it; those of the deleted ones went too.
    packages = sorted(folder.glob(f"atlas-{database}-*.datapackage.zip"))
    assert [p.name.removesuffix(".datapackage.zip") for p in packages] == [
        k.stem for k in kept]
    assert zipfile.is_zipfile(packages[-1]) and packages[-1].stat().st_mode & 0o077 == 0


def test_a_backup_restored_into_an_empty_database_gives_the_same_data_package(
        databases, jobs_env, tmp_path):
    from app.exports import FORMATS, ExportJob

    url = databases.demo("jobs_backup_package")
    folder = tmp_path / "backups"
    jobs_env(f'[jobs.nightly]\nkind = "backup"\nkeep = 1\nfolder = "{folder}"\n')
    ran = flask("jobs", "run", "nightly", url=url)
    assert ran.returncode == 0, ran.stderr
    [dump] = folder.glob("*.dump")
    [package] = folder.glob("*.datapackage.zip")

    target = make_app(databases.create("jobs_backup_restored"))
    restored = cli(target, "backup", "restore", str(dump))
    assert restored.returncode == 0, restored.stderr + restored.stdout
    with target.app_context():
        again = b"".join(FORMATS["datapackage"].write(ExportJob(base_url="http://localhost")))
        db.session.remove()
        db.engine.dispose()

    def members(data: bytes) -> dict[str, object]:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            out: dict[str, object] = {n: archive.read(n) for n in archive.namelist()}
        descriptor = json.loads(out.pop("datapackage.json"))
        descriptor.pop("created")  # when each package was written
        out["datapackage.json"] = descriptor
        return out

    before, after = members(package.read_bytes()), members(again)
    assert sorted(before) == sorted(after) and len(before) > 2
    assert before == after


# -- the admins' page ----------------------------------------------------------------------

def test_jobs_page_is_for_admins_and_lists_the_runs(app, client, session, accounts, tmp_path):
    from datetime import UTC, datetime

    app.config["JOBS_FILE"] = str(_jobs_file(
        tmp_path, '[jobs.osm]\nkind = "refresh-source"\noverpass = "http://127.0.0.1:9/"\n'))
    imported = ImportRun(origin="osm", status="finished", created=3)
    session.add(imported)
    session.flush()
    now = datetime.now(UTC)
    session.add_all([
        JobRun(name="osm", kind="refresh-source", started_at=now, finished_at=now,
               outcome="succeeded", message="created: 3", import_run_id=imported.id),
        JobRun(name="osm", kind="refresh-source", started_at=now, finished_at=now,
               outcome="failed", message="<b>Overpass</b> did not answer"),
        # Left "running" by a process that died: nobody holds the digest's lock.
        JobRun(name="digest", kind="digest", started_at=now, outcome="running"),
    ])
    session.commit()
    try:
        assert client.get("/editor/jobs").status_code == 302  # to the login page
        login(client, "editor")
        assert client.get("/editor/jobs").status_code == 403
        admin = app.test_client()
        login(admin, "admin")
        page = admin.get("/editor/jobs")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert 'data-job="osm"' in html and 'data-job="digest"' in html
        assert "&lt;b&gt;Overpass&lt;/b&gt; did not answer" in html  # escaped
        assert f"/admin/imports/{imported.id}" in html
        assert "Échec" in html and "Réussi" in html
        digest = html[html.index('data-job="digest"'):]
        assert 'data-outcome="interrupted"' in digest and "Interrompu" in digest
        with job_lock("digest") as got:  # now a run holds it: under way
            assert got
            digest = admin.get("/editor/jobs").get_data(as_text=True)
        digest = digest[digest.index('data-job="digest"'):]
        assert 'data-outcome="running"' in digest and "En cours" in digest
    finally:
        app.config.pop("JOBS_FILE")
