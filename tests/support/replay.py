"""A peer on loopback for the sources' tests: a local HTTP server replaying answers by path
(files under tests/data/sources, written by us after each peer's documentation)."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

SOURCES_DATA = Path(__file__).resolve().parents[1] / "data" / "sources"


class Replay:
    """Answers by path (the query is recorded, not matched); `answers` may change."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[str, bytes]] = {}
        self.seen: list[tuple[str, str, dict[str, list[str]], str | None]] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                replay.seen.append((self.command, parts.path,
                                    parse_qs(parts.query or body),
                                    self.headers.get("Authorization")))
                found = replay.answers.get(parts.path)
                if found is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", found[0])
                self.send_header("Content-Length", str(len(found[1])))
                self.end_headers()
                self.wfile.write(found[1])

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def file(self, path: str, name: str, content_type: str = "application/json") -> None:
        self.answers[path] = (content_type, (SOURCES_DATA / name).read_bytes())

    def json(self, path: str, value: object) -> None:
        self.answers[path] = ("application/json", json.dumps(value).encode())
