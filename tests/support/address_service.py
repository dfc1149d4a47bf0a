"""A local address service (the BAN API's /search/, /reverse/ and /search/csv/) that
replays canned answers (tests/data/geocoding/ban-answers.json, each marked with its
provenance). `down=True`: every call answers 503. `numbered=True`: a question whose
house number differs from a canned one gets that answer (the benchmark's 10,000 rows).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from app.geocoding.client import search_key
from tests.support.serving import serving

ANSWERS = Path(__file__).resolve().parents[1] / "data" / "geocoding" / "ban-answers.json"
RESULT_COLUMNS = ("latitude", "longitude", "result_label", "result_score", "result_type",
                  "result_citycode", "result_postcode", "result_city", "result_status")
NUMBER = re.compile(r"^\d+\s+")


class AddressReplay:
    def __init__(self, *, down: bool = False, numbered: bool = False) -> None:
        canned = json.loads(ANSWERS.read_text(encoding="utf-8"))
        self.search = {search_key(a["q"]): a["feature"] for a in canned["search"]}
        self.loose = {NUMBER.sub("", k): v for k, v in self.search.items()}
        self.reverse = canned["reverse"]
        self.down, self.numbered = down, numbered
        self.calls: list[str] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                replay.calls.append(url.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if replay.down:
                    return self._send(503, b"down", "text/plain")
                if url.path == "/search/":
                    feature = replay.find(query.get("q", ""))
                elif url.path == "/reverse/":
                    feature = replay.nearest(float(query["lon"]), float(query["lat"]))
                else:
                    return self._send(404, b"not found", "text/plain")
                body = {"type": "FeatureCollection", "version": "draft",
                        "features": [feature] if feature else []}
                self._send(200, json.dumps(body).encode(), "application/json")

            def do_POST(self) -> None:
                replay.calls.append(self.path)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if replay.down:
                    return self._send(503, b"down", "text/plain")
                if self.path != "/search/csv/":
                    return self._send(404, b"not found", "text/plain")
                answer = replay.answer_csv(self.headers["Content-Type"], body)
                self._send(200, answer.encode(), "text/csv; charset=utf-8")

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=serving(self.server), daemon=True)

    def find(self, q: str) -> dict[str, Any] | None:
        key = search_key(q)
        if key in self.search:
            return self.search[key]
        if self.numbered:
            feature = self.loose.get(NUMBER.sub("", key))
            if feature is not None:
                return feature
        return None

    def nearest(self, lon: float, lat: float) -> dict[str, Any] | None:
        best = min(self.reverse, key=lambda r: math.hypot(r["lon"] - lon, r["lat"] - lat))
        return best["feature"] if math.hypot(best["lon"] - lon, best["lat"] - lat) < 0.01 \
            else None

    def answer_csv(self, content_type: str, body: bytes) -> str:
        """The documented /search/csv/: the file's rows, each with the result columns,
        the question made of the `columns` fields."""
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        columns, data = [], ""
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            raw = part.get_payload(decode=True).decode("utf-8")
            if name == "columns":
                columns.append(raw.strip())
            elif name == "data":
                data = raw
        reader = csv.DictReader(io.StringIO(data))
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([*reader.fieldnames, *RESULT_COLUMNS])
        for row in reader:
            q = " ".join(row[c] for c in columns if row.get(c))
            feature = self.find(q)
            if feature is None:
                writer.writerow([*row.values(), "", "", "", "", "", "", "", "", "not-found"])
                continue
            lon, lat = feature["geometry"]["coordinates"]
            p = feature["properties"]
            writer.writerow([*row.values(), lat, lon, p["label"], p["score"], p["type"],
                             p["citycode"], p["postcode"], p["city"], "ok"])
        return out.getvalue()

    def __enter__(self) -> AddressReplay:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
