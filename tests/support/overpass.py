"""A local Overpass interpreter that replays a recorded answer (tests/data/overpass-lille.json),
and can hold its answers until told (a job caught in the middle of its run)."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs

from tests.support.importer import DATA
from tests.support.serving import serving

RECORDED = DATA / "overpass-lille.json"
FIXTURE = DATA / "lille-fixture.osm"


class OverpassReplay:
    """`url` answers each POSTed query with `answer`; while `held`, answers wait for
    `release()`. `queries` are the queries received, `arrived` is set at the first."""

    def __init__(self, answer: bytes | None = None, *, held: bool = False) -> None:
        self.answer = RECORDED.read_bytes() if answer is None else answer
        self.queries: list[str] = []
        self.arrived = threading.Event()
        self.released = threading.Event()
        if not held:
            self.released.set()
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                replay.queries.append(parse_qs(body)["data"][0])
                replay.arrived.set()
                replay.released.wait(timeout=60)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(replay.answer)))
                self.end_headers()
                self.wfile.write(replay.answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/interpreter"
        self.thread = threading.Thread(target=serving(self.server), daemon=True)

    def release(self) -> None:
        self.released.set()

    def __enter__(self) -> OverpassReplay:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def fixture_objects() -> list[dict]:
    """The hand-written fixture as plain dicts, read with ElementTree (not osmium)."""
    root = ET.parse(FIXTURE).getroot()
    out = []
    for element in root:
        tags = {t.get("k"): t.get("v") for t in element.findall("tag")}
        out.append({"type": element.tag, "id": int(element.get("id")), "tags": tags,
                    "lat": element.get("lat"), "lon": element.get("lon")})
    return out


class FlakyOverpass(BaseHTTPRequestHandler):
    """Answers POSTs with the recorded answer; the first `failures` get a 503."""

    answer = b""
    failures = 0
    queries: ClassVar[list[str]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).queries.append(parse_qs(body)["data"][0])
        if type(self).failures > 0:
            type(self).failures -= 1
            self.send_response(503)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.answer)))
        self.end_headers()
        self.wfile.write(self.answer)

    def log_message(self, *args):
        pass
