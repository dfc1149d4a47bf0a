"""Schemathesis against the JSON API and OGC API, write operations included, every phase.

Run on demand (`make bench-fuzz`), never by `make test`: 200 examples per operation
and the stateful phase (POST an entry, then GET/PUT/PATCH/DELETE it through the links
schemathesis infers from our Location headers) take minutes. A throwaway database
with the demo data; an editor account and its bearer token; the app on a loopback
server; the schemathesis CLI run against it. Prints, per document, the operations,
the requests sent, the server errors (5xx) and every failed check by kind.

    .venv/bin/python bench/fuzz_api.py [--examples 200] [--phases fuzzing,stateful] [--verbose]
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import make_app, migrate, serve, throwaway_database

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def editor_token(app) -> str:
    from app.extensions import db
    from app.services.tokens import create_token
    from app.services.users import create_user

    with app.app_context():
        user = create_user("fuzz-editor@example.org", "a long fuzzing password", "editor")
        plaintext, _ = create_token(user, "schemathesis")
        db.engine.dispose()
    return plaintext


def run_document(url: str, token: str, examples: int, phases: str, report: Path) -> dict:
    """One schemathesis CLI run; returns its figures read from the NDJSON event report."""
    started = time.perf_counter()
    command = [str(SCHEMATHESIS), "run", url, "--header", f"Authorization: Bearer {token}",
               "--max-examples", str(examples), "--phases", phases, "--seed", "1",
               "--workers", "2", "--report", "ndjson", "--report-ndjson-path", str(report),
               "--request-timeout", "30", "--no-color"]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    return {"exit": completed.returncode, "seconds": seconds, "output": completed.stdout,
            **read_events(report)}


def read_events(report: Path) -> dict:
    """Count requests, 5xx answers and failed checks by name from schemathesis' NDJSON."""
    requests = 0
    server_errors = 0
    failures: Counter[str] = Counter()
    operations: set[str] = set()
    errors: set[str] = set()
    if not report.exists():
        return {"requests": 0, "server_errors": 0, "failures": failures, "operations": 0,
                "erring": errors}
    for line in report.read_text().splitlines():
        event = json.loads(line)
        for _name, body in event.items():
            if not isinstance(body, dict):
                continue
            recorder = body.get("recorder")
            if not recorder:
                continue
            label = recorder.get("label")
            if label:
                operations.add(label)
            for interaction in (recorder.get("interactions") or {}).values():
                response = interaction.get("response")
                if response is None:
                    continue
                requests += 1
                if response.get("status_code", 0) >= 500:
                    server_errors += 1
            for checks in (recorder.get("checks") or {}).values():
                for check in checks:
                    if str(check.get("status")).lower() == "failure":
                        failures[check.get("name", "?")] += 1
                        if check.get("name") == "not_a_server_error":
                            errors.add(label or "?")
    return {"requests": requests, "server_errors": server_errors, "failures": failures,
            "operations": len(operations), "erring": errors}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--phases", default="examples,coverage,fuzzing,stateful")
    parser.add_argument("--verbose", action="store_true", help="print schemathesis' output")
    args = parser.parse_args()
    worst = 0
    reports = Path(__file__).resolve().parents[1] / "var" / "bench-fuzz"
    reports.mkdir(parents=True, exist_ok=True)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with throwaway_database("fuzz") as url:
        app = make_app(url, RATELIMIT_ENABLED=False)
        migrate(app, demo=True)
        token = editor_token(app)
        with serve(app) as base:
            for name, path in (("JSON API", "/api/openapi.json"), ("OGC API", "/ogc/api?f=json")):
                figures = run_document(base + path, token, args.examples, args.phases,
                                       reports / f"{name.replace(' ', '-')}.ndjson")
                print(f"{name}: {figures['operations']} operations, {figures['requests']} "
                      f"requests in {figures['seconds']:.0f} s, "
                      f"{figures['server_errors']} server errors (5xx); schemathesis exit "
                      f"{figures['exit']}")
                for check, count in figures["failures"].most_common():
                    print(f"  failed check {check}: {count}")
                for label in sorted(figures["erring"]):
                    print(f"  server error in {label}")
                if args.verbose:
                    print(figures["output"])
                worst = max(worst, figures["server_errors"])
    return 1 if worst else 0


if __name__ == "__main__":
    sys.exit(main())
