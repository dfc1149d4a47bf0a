"""The production path, as docs/deploy.md sets it up: the wheel installed without test
extras into its own virtual environment (pinned by requirements.lock), `atlas db upgrade`,
gunicorn started with deploy/atlas-web.service's own command line, real nginx in front
with deploy/nginx-atlas.conf. Through nginx: pages answer, static files come from nginx,
and the login limit counts each real client (127.0.0.2 and 127.0.0.3, both on lo).

The virtual environment is made by uv (the same pins as pip would install, for a
fraction of its CPU) and kept under var/prod-test, keyed by a hash of what decides its
packages (pyproject.toml, requirements.lock); the wheel is rebuilt and reinstalled only
when the sources changed.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from app.localdb import PROJECT_ROOT, fingerprint
from tests.support.processes import free_port

DEPLOY = PROJECT_ROOT / "deploy"
CACHE = PROJECT_ROOT / "var" / "prod-test"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
WHEEL_SOURCES = [PROJECT_ROOT / p for p in (
    "app", "importers", "templates", "static", "migrations", "data", "translations",
    "pyproject.toml", "setup.py", "LICENSE")]
PROD_OPT = "/opt/atlas/venv"  # where the shipped units expect the virtual environment


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, f"{shlex.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def _clean_env(**extra: str) -> dict[str, str]:
    """An operator's environment: no virtual environment of ours, no PYTHONPATH."""
    keep = ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
    return {**env, **extra}


def _uv(*args: str) -> subprocess.CompletedProcess[str]:
    """uv (a test extra): it makes the venv from the same pins as pip would, in a tenth of
    pip's CPU, and it needs no pip inside the venv, so the venv holds the pins and the wheel
    and nothing else."""
    from uv import find_uv_bin

    return _run([find_uv_bin(), *args, "--quiet", "--no-config"])


@pytest.fixture(scope="module")
def venv() -> Path:
    """A virtual environment with the pinned runtime packages and the current wheel."""
    deps_key = fingerprint(PROJECT_ROOT / "pyproject.toml", PROJECT_ROOT / "requirements.lock")
    path = CACHE / f"venv-{deps_key[:12]}"
    python = str(path / "bin" / "python")
    if not (path / ".deps-installed").exists():
        for old in CACHE.glob("venv-*"):
            shutil.rmtree(old, ignore_errors=True)
        # This Python's base interpreter, as `python -m venv` would take; no seed packages.
        _uv("venv", "--python", sys.executable, str(path))
        # No byte-compiling: Python does it on first import, for what is imported.
        _uv("pip", "install", "--python", python, "-r", str(PROJECT_ROOT / "requirements.lock"))
        (path / ".deps-installed").touch()
    wheel_key = fingerprint(*WHEEL_SOURCES)[:12]
    if not (path / f".wheel-{wheel_key}").exists():
        out = CACHE / "wheels"
        shutil.rmtree(out, ignore_errors=True)
        _uv("build", "--wheel", "--no-build-isolation", "--python", sys.executable,
            "--out-dir", str(out), str(PROJECT_ROOT))
        (wheel,) = out.glob("atlas_communs-*.whl")
        _uv("pip", "install", "--python", python, "--no-deps", "--reinstall", str(wheel))
        for old in path.glob(".wheel-*"):
            old.unlink()
        (path / f".wheel-{wheel_key}").touch()
    return path


@pytest.fixture(scope="module")
def site(venv, databases, tmp_path_factory):
    """The installed app behind nginx: yields (nginx port, gunicorn's access log)."""
    tmp = tmp_path_factory.mktemp("prod")
    env_file = _env_file(tmp, databases.create("prod"))
    env = _clean_env(**_read_env(env_file))
    _run([str(venv / "bin" / "atlas"), "db", "upgrade"], env=env, cwd=tmp)

    app_port, web_port = free_port(), free_port()
    command = _unit_command(venv, app_port)
    log = (tmp / "gunicorn.log").open("w")
    gunicorn = subprocess.Popen(command, env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    conf = _nginx_conf(tmp, venv, env, app_port, web_port)
    nginx = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(conf)], cwd=tmp,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
    try:
        _wait_for(web_port, gunicorn, tmp / "gunicorn.log")
        yield {"port": web_port, "log": tmp / "gunicorn.log", "venv": venv, "env": env,
               "tmp": tmp, "conf": conf}
    finally:
        for process in (nginx, gunicorn):
            os.killpg(process.pid, signal.SIGTERM)
        for process in (nginx, gunicorn):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def _read_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().removeprefix('"').removesuffix('"')
    return values


def _env_file(tmp: Path, database_url: str) -> Path:
    """deploy/atlas.env.example with this test's values: what an operator writes."""
    values = {"DATABASE_URL": database_url, "SECRET_KEY": "prod-test-secret",
              "ATLAS_STATE_DIR": str(tmp / "state"), "ATLAS_BACKUP_DIR": str(tmp / "backups"),
              "ATLAS_HTTPS": "0",  # plain HTTP on loopback here
              "ATLAS_BASE_URL": "http://127.0.0.1", "ATLAS_LOGIN_RATE_LIMIT": "3 per minute"}
    lines = []
    for line in (DEPLOY / "atlas.env.example").read_text().splitlines():
        key = line.split("=", 1)[0].lstrip("#").strip() if "=" in line else None
        if key in values:
            line = f"{key}={values.pop(key)}"
        lines.append(line)
    lines += [f"{k}={v}" for k, v in values.items()]
    path = tmp / "atlas.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def _unit_value(unit: str, key: str) -> str:
    match = re.search(rf"^{key}=(.+)$", (DEPLOY / unit).read_text(), re.MULTILINE)
    assert match, f"no {key}= in deploy/{unit}"
    return match.group(1).strip()


def _unit_command(venv: Path, port: int) -> list[str]:
    """atlas-web.service's ExecStart, with this venv and a free loopback port."""
    args = shlex.split(_unit_value("atlas-web.service", "ExecStart"))
    assert args[0].startswith(PROD_OPT + "/")
    args[0] = str(venv) + args[0][len(PROD_OPT):]
    bind = args.index("--bind")
    assert args[bind + 1].startswith("127.0.0.1:")
    args[bind + 1] = f"127.0.0.1:{port}"
    return args


def _site_conf(tmp: Path, static_dir: str, app_port: int, web_port: int) -> Path:
    text = (DEPLOY / "nginx-atlas.conf").read_text()
    for old, new in (("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};"),
                     ("listen 80;", f"listen 127.0.0.1:{web_port};"),
                     ("listen [::]:80;", ""),
                     ("alias /opt/atlas/static/;", f"alias {static_dir}/;")):
        assert old in text, old
        text = text.replace(old, new)
    path = tmp / "site.conf"
    path.write_text(text)
    return path


def _main_conf(tmp: Path, site: Path) -> Path:
    """An nginx.conf as Debian's, reduced: the site file inside http {}."""
    for folder in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / folder).mkdir(exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers read the venv's files
    path = tmp / f"nginx-{site.stem}.conf"
    path.write_text(f"""{user}worker_processes 1;
daemon off;
pid {tmp}/nginx-{site.stem}.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {tmp}/nginx-access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {site};
}}
""")
    return path


def _nginx_conf(tmp: Path, venv: Path, env: dict, app_port: int, web_port: int) -> Path:
    static_dir = _run([str(venv / "bin" / "atlas"), "static-dir"], env=env,
                      cwd=tmp).stdout.strip()
    return _main_conf(tmp, _site_conf(tmp, static_dir, app_port, web_port))


def _wait_for(port: int, gunicorn: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert gunicorn.poll() is None, f"gunicorn ended:\n{log.read_text()}"
        try:
            if _get(port, "/healthz").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"no answer through nginx in {timeout} s:\n{log.read_text()}")


class Answer:
    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = response.headers
        self.body = response.read()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def _request(port: int, method: str, path: str, *, source: str = "127.0.0.1",
             headers: dict[str, str] | None = None, body: str | None = None) -> Answer:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30,
                                      source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        return Answer(conn.getresponse())
    finally:
        conn.close()


def _get(port: int, path: str, **kwargs) -> Answer:
    return _request(port, "GET", path, **kwargs)


def _failed_login(port: int, source: str, forged: str | None = None) -> int:
    """One login with a wrong password from `source`, as a browser: form, cookie, CSRF."""
    form = _get(port, "/login", source=source)
    cookie = form.headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    if forged:
        headers["X-Forwarded-For"] = forged
    body = urllib.parse.urlencode({"csrf_token": token, "email": "nobody@example.org",
                                   "password": "wrong"})
    return _request(port, "POST", "/login", source=source, headers=headers, body=body).status


def test_the_wheel_holds_what_runs_and_no_test_tools(venv):
    python = str(venv / "bin" / "python")
    _uv("pip", "check", "--python", python)  # every requirement of every package met
    probe = ("import importlib.util, json, app.config as c; print(json.dumps({"
             "'tools': [t for t in ('pytest', 'playwright', 'ruff', 'schemathesis') "
             "if importlib.util.find_spec(t)], 'root': str(c.PROJECT_ROOT), "
             "'installed': c.INSTALLED}))")
    seen = json.loads(_run([python, "-c", probe], env=_clean_env(), cwd="/").stdout)
    assert seen["tools"] == [], "test tools installed without the test extras"
    assert seen["installed"] and "site-packages" in seen["root"], seen
    root = Path(seen["root"])
    for needed in ("templates/base.html", "static/css/atlas.css", "migrations/env.py",
                   "translations/fr/LC_MESSAGES/messages.mo", "data/demo/lille.toml"):
        assert (root / needed).is_file(), needed
    # Installed, nothing is written inside the package: no key is made up there.
    refused = subprocess.run([str(venv / "bin" / "atlas"), "db", "current"], cwd="/",
                             env=_clean_env(DATABASE_URL="postgresql://x@127.0.0.1:9/x"),
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "Error: SECRET_KEY is not set" in refused.stderr
    assert not (root / "var").exists()


def test_pages_answer_through_nginx_from_the_installed_app(site):
    port = site["port"]
    home = _get(port, "/?lang=fr")
    assert home.status == 200 and "Atlas des communs" in home.text
    assert home.headers["Server"].startswith("nginx")
    entries = _get(port, "/api/v1/entries")
    assert entries.status == 200
    assert entries.headers["Content-Type"].startswith("application/json")
    listing = _get(port, "/entries?lang=fr")
    assert listing.status == 200 and "Code source" not in listing.text  # ATLAS_SOURCE_URL unset


def test_static_files_are_served_by_nginx_gzipped(site):
    answer = _get(site["port"], "/static/css/atlas.css", headers={"Accept-Encoding": "gzip"})
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "text/css"
    assert answer.headers["X-Served-By"] == "nginx"
    assert answer.headers["Content-Encoding"] == "gzip"
    _get(site["port"], "/healthz")  # a request the app does see, logged after the static one
    log = site["log"].read_text()
    assert "GET /healthz" in log
    assert "/static/" not in log  # gunicorn never saw it


def test_the_login_limit_counts_each_real_client(site):
    port = site["port"]
    assert [_failed_login(port, "127.0.0.2") for _ in range(3)] == [422, 422, 422]
    assert _failed_login(port, "127.0.0.2") == 429
    # Another address behind the same nginx is not locked out.
    assert _failed_login(port, "127.0.0.3") == 422
    # Nor does a forged X-Forwarded-For free the first one: nginx appends the real address.
    assert _failed_login(port, "127.0.0.2", forged="127.0.0.3") == 429
    log = site["log"].read_text()
    assert re.search(r"^127\.0\.0\.2 .*POST /login", log, re.MULTILINE)  # the real client
    assert re.search(r"^127\.0\.0\.3 .*POST /login", log, re.MULTILINE)


def test_the_job_unit_command_runs_the_backup_job(site):
    """atlas-job@backup.service: the built-in backup job (no jobs file), recorded."""
    command = shlex.split(_unit_value("atlas-job@.service", "ExecStart"))
    assert command[0] == PROD_OPT + "/bin/atlas" and command[-1] == "%i"
    command[0], command[-1] = str(site["venv"] / "bin" / "atlas"), "backup"
    out = _run(command, env=site["env"], cwd=site["tmp"]).stdout
    (backup,) = (site["tmp"] / "backups").glob("atlas-*.dump")
    assert str(backup) in out and "backup (backup) succeeded" in out
    assert backup.stat().st_size > 0
    listed = _run([str(site["venv"] / "bin" / "atlas"), "jobs", "list"], env=site["env"],
                  cwd=site["tmp"]).stdout
    assert re.search(r"^backup\tbackup\t.* succeeded$", listed, re.MULTILINE), listed


def test_nginx_accepts_the_shipped_site_file(site):
    _run([NGINX, "-t", "-p", str(site["tmp"]), "-c", str(site["conf"])])
    # The shipped file itself, untouched (its ports and paths as docs/deploy.md says).
    shipped = _main_conf(site["tmp"], DEPLOY / "nginx-atlas.conf")
    _run([NGINX, "-t", "-p", str(site["tmp"]), "-c", str(shipped)])


def test_systemd_accepts_the_shipped_units(site, tmp_path):
    """systemd-analyze verify, with the paths of this machine's install in the units."""
    env_file = tmp_path / "atlas.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in site["env"].items()))
    shipped = sorted(p.name for p in DEPLOY.glob("*.service")) + sorted(
        p.name for p in DEPLOY.glob("*.timer"))
    assert {"atlas-web.service", "atlas-job@.service", "atlas-job@backup.timer"} <= set(shipped)
    for name in shipped:
        text = (DEPLOY / name).read_text().replace(PROD_OPT, str(site["venv"]))
        (tmp_path / name).write_text(text.replace("/etc/atlas/atlas.env", str(env_file)))
    # A template is checked through its instances: those the shipped timers start.
    names = [n for n in shipped if not n.endswith("@.service")]
    names += [n.replace(".timer", ".service") for n in shipped if "@" in n and n.endswith(".timer")]
    result = subprocess.run(["systemd-analyze", "verify", *names], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    said = result.stdout + result.stderr
    assert result.returncode == 0, said
    assert "Unknown key" not in said and "Unknown section" not in said, said
