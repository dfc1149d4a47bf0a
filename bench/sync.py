"""Benchmark of the sync between two instances (run on demand, not a test).

    make bench-sync       # or: .venv/bin/python bench/sync.py [--entries 5000]

Instance A: the demo data plus N synthetic entries (SQL, as bench/exports.py does).
Instance B: empty; it pulls A (`flask sync pull`), A being served on loopback.
Instance C: the demo tags and an editor's token; A pushes to it (`flask sync push`).
Each command runs in a process of its own; the servers are werkzeug's threaded
server in this process. Prints entries per second, then the time of a second pull
and a second push, which find nothing new.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.localdb import ThrowawayDatabases  # noqa: E402
from bench.exports import grow, public_count  # noqa: E402
from bench.harness import make_app, migrate, serve  # noqa: E402

PROFILE: Path | None = None  # --profile DIR: cProfile of each command and each server
STATEMENTS = 0  # --pg-statements N: the N costliest statements of each step
TICK = os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    """CPU seconds of the project's PostgreSQL so far: the postmaster, the backends it
    reaped and those still running (the servers' pooled connections among them); NaN
    when the databases are on another server."""
    pid_file = ROOT / "var" / "pg" / "data" / "postmaster.pid"
    try:  # not the project's own cluster (another server): not measured
        postmaster = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")

    def stat(pid: int) -> list[str]:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()

    fields = stat(postmaster)  # after ")": state ppid … utime(11) stime(12) cutime cstime
    total = sum(int(v) for v in fields[11:15])
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                child = stat(int(proc.name))
            except (OSError, IndexError):
                continue
            if int(child[1]) == postmaster:
                total += int(child[11]) + int(child[12])
    return total / TICK


class CpuMeter:
    """CPU seconds of one step: the command's process, this process (the servers) and
    PostgreSQL; less moved by the machine's load than the wall time."""

    def __enter__(self) -> CpuMeter:
        self.start = (resource.getrusage(resource.RUSAGE_CHILDREN),
                      resource.getrusage(resource.RUSAGE_SELF), postgres_cpu())
        return self

    def __exit__(self, *_: object) -> None:
        children, own = (resource.getrusage(resource.RUSAGE_CHILDREN),
                         resource.getrusage(resource.RUSAGE_SELF))
        self.command = (children.ru_utime + children.ru_stime
                        - self.start[0].ru_utime - self.start[0].ru_stime)
        self.server = own.ru_utime + own.ru_stime - self.start[1].ru_utime - self.start[1].ru_stime
        self.postgres = postgres_cpu() - self.start[2]

    def __str__(self) -> str:
        return (f"CPU: command {self.command:.1f} s, server {self.server:.1f} s, "
                f"PostgreSQL {self.postgres:.1f} s, load {os.getloadavg()[0]:.1f}")


def statements_reset(url: str) -> None:
    """Forget pg_stat_statements' counts (the cluster must preload it: see --help)."""
    if STATEMENTS:
        import psycopg2

        with psycopg2.connect(url) as conn, conn.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            cur.execute("SELECT pg_stat_statements_reset()")
        conn.close()


def statements_report(url: str, step: str) -> None:
    """The costliest statements since the last reset, every database of the cluster
    (triggers' statements included when pg_stat_statements.track = all)."""
    if not STATEMENTS:
        return
    import psycopg2

    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT sum(total_exec_time + total_plan_time) FROM pg_stat_statements "
                    "WHERE toplevel")
        total = cur.fetchone()[0] or 0
        cur.execute("SELECT total_exec_time + total_plan_time, calls, rows, toplevel, "
                    "dbid = (SELECT oid FROM pg_database WHERE datname = current_database()), "
                    "regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements "
                    "ORDER BY 1 DESC LIMIT %s", (STATEMENTS,))
        print(f"  PostgreSQL, {step}: top-level statements {total / 1000:.2f} s")
        for ms, calls, rows, toplevel, here, query in cur.fetchall():
            print(f"  {ms / 1000:7.2f} s {calls:7,} calls {rows:9,} rows "
                  f"{'' if here else '[other db] '}{'' if toplevel else '(nested) '}"
                  f"{query[:150]}")
    conn.close()


def flask(url: str, *args: str) -> tuple[float, str]:
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "app"}
    profiled = ([] if PROFILE is None else
                ["-m", "cProfile", "-o", str(PROFILE / f"{args[1]}-{time.time():.0f}.prof")])
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *profiled, "-m", "flask", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=3600)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout


def summary(output: str) -> str:
    return next((line for line in output.splitlines() if line.startswith("created:")), "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=5000)
    parser.add_argument("--profile", type=Path, help="write cProfile files there: one per "
                        "command, one per request served (pstats merges them)")
    parser.add_argument("--pg-statements", type=int, default=0, metavar="N",
                        help="print the N costliest statements of each step from "
                        "pg_stat_statements (the cluster must have it in "
                        "shared_preload_libraries, pg_stat_statements.track = all)")
    args = parser.parse_args()
    global STATEMENTS
    STATEMENTS = args.pg_statements
    if args.profile is not None:
        global PROFILE
        PROFILE = args.profile.resolve()
        PROFILE.mkdir(parents=True, exist_ok=True)

    with ThrowawayDatabases() as pool:
        a_url, b_url, c_url = (pool.create(f"bench_sync_{x}") for x in "abc")
        a_app, b_app, c_app = make_app(a_url), make_app(b_url), make_app(c_url)
        migrate(a_app, demo=True)
        migrate(b_app)
        migrate(c_app)
        grow(a_url, 1, args.entries)
        total = public_count(a_url)
        with c_app.app_context():
            from app.demo import read_demo
            from app.extensions import db
            from app.services.tags import ensure_tags
            from app.services.tokens import create_token
            from app.services.users import create_user

            ensure_tags(read_demo()["tags"])
            db.session.commit()
            user = create_user("sync@bench.example", "a long enough password", "editor")
            token, _ = create_token(user, "bench")
            db.session.remove()
            db.engine.dispose()
        print(f"instance A: {total:,} public entries")

        if PROFILE is not None:
            from werkzeug.middleware.profiler import ProfilerMiddleware

            for app, name in ((a_app, "a"), (c_app, "c")):
                app.wsgi_app = ProfilerMiddleware(app.wsgi_app, stream=None,
                                                  profile_dir=str(PROFILE / f"server-{name}"))
                (PROFILE / f"server-{name}").mkdir(exist_ok=True)
        with serve(a_app) as a_server:
            print(f"load average {os.getloadavg()[0]:.1f}")
            statements_reset(b_url)
            with CpuMeter() as cpu:
                seconds, output = flask(b_url, "sync", "pull", "--from", a_server, "--name", "a")
            print(f"pull A -> B: {seconds:.1f} s, {total / seconds:,.0f} entries/s "
                  f"({summary(output)}); {cpu}")
            statements_report(b_url, "first pull")
            seconds, output = flask(b_url, "sync", "pull", "--from", a_server, "--name", "a")
            print(f"second pull: {seconds:.2f} s ({summary(output)})")
        with serve(c_app) as c_server:
            statements_reset(c_url)
            with CpuMeter() as cpu:
                seconds, output = flask(a_url, "sync", "push", "--to", c_server,
                                        "--token", token, "--as", "a")
            print(f"push A -> C: {seconds:.1f} s, {total / seconds:,.0f} entries/s "
                  f"({summary(output)}); {cpu}")
            statements_report(c_url, "first push")
            seconds, output = flask(a_url, "sync", "push", "--to", c_server, "--token", token,
                                    "--as", "a")
            print(f"second push: {seconds:.2f} s ({summary(output)})")


if __name__ == "__main__":
    main()
