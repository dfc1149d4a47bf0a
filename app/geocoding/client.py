"""One small client of the address service: single look-ups, reverse, and CSV batches.

Time-outs and retries (with a growing pause) on connection errors, 429 and 5xx; an
answer (found or not) is kept in the cache, so a question is asked once; a service
that stays unreachable gives "unavailable" outcomes, never an exception, so that an
import goes on and reports the rows it left without a position. An answer below the
minimum score is "low_score": reported, its position not used.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..communes.names import ascii_lower

if TYPE_CHECKING:
    import requests

Status = Literal["found", "low_score", "not_found", "unavailable"]
# The answer's properties kept (GeoCodeJSON / the CSV's result_* columns).
KEPT = ("label", "score", "type", "citycode", "postcode", "city")


class Cache(Protocol):
    def get_many(self, kind: str, keys: Iterable[str]) -> dict[str, dict[str, Any] | None]: ...

    def put_many(self, kind: str, answers: Mapping[str, dict[str, Any] | None]) -> None: ...


@dataclass(frozen=True)
class Outcome:
    """What the service said of one address or point; `answer` its best result."""

    status: Status
    answer: dict[str, Any] | None = None
    error: str | None = None

    @property
    def lonlat(self) -> tuple[float, float] | None:
        if self.answer is None:
            return None
        return self.answer["lon"], self.answer["lat"]

    @property
    def score(self) -> float | None:
        return self.answer.get("score") if self.answer else None


class ServiceDown(Exception):
    """The service did not answer after the retries; the message says how it failed."""


def search_key(q: str, postcode: str | None = None) -> str:
    """The cache's form of a question: lower case, no accents, single spaces."""
    text = " ".join(ascii_lower(q).replace(",", " ").split())
    return f"{text}|{(postcode or '').strip()}"


def reverse_key(lon: float, lat: float) -> str:
    return f"{lon:.5f},{lat:.5f}"  # about a metre


def _from_feature(feature: Mapping[str, Any]) -> dict[str, Any]:
    props = feature.get("properties") or {}
    lon, lat = feature["geometry"]["coordinates"][:2]
    out = {k: props.get(k) for k in KEPT}
    out.update(lon=float(lon), lat=float(lat))
    return out


def _from_row(row: Mapping[str, str]) -> dict[str, Any] | None:
    if (row.get("result_status") or "ok") != "ok" or not row.get("latitude"):
        return None
    out: dict[str, Any] = {k: row.get(f"result_{k}") or None for k in KEPT}
    out["score"] = float(row["result_score"]) if row.get("result_score") else None
    out.update(lon=float(row["longitude"]), lat=float(row["latitude"]))
    return out


class AddressService:
    """The service at `base_url` (BAN's API or an addok)."""

    def __init__(self, base_url: str, *, timeout: float = 10, retries: int = 2,
                 min_score: float = 0.5, batch_rows: int = 5000, cache: Cache | None = None,
                 pause: float = 0.5) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout, self.retries, self.min_score = timeout, retries, min_score
        self.batch_rows, self.cache, self.pause = batch_rows, cache, pause
        import requests  # here, not at every start of the app (test_modes)

        self.http = requests.Session()
        self.http.headers["User-Agent"] = "atlas-communs (geocoding)"
        self.requests_made = 0

    @classmethod
    def from_config(cls, config: Mapping[str, Any], cache: Cache | None = None
                    ) -> AddressService:
        return cls(config["GEOCODER_URL"], timeout=config["GEOCODER_TIMEOUT"],
                   retries=config["GEOCODER_RETRIES"], min_score=config["GEOCODER_MIN_SCORE"],
                   batch_rows=config["GEOCODER_BATCH_ROWS"], cache=cache)

    # -- HTTP ------------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """The answer, after up to `retries` more tries; ServiceDown when none came."""
        import requests

        url = f"{self.base_url}{path}"
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.pause * 2 ** (attempt - 1))
            self.requests_made += 1
            try:
                response = self.http.request(method, url, timeout=self.timeout, **kwargs)
            except requests.RequestException as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code == 429 or response.status_code >= 500:
                last = f"HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                raise ServiceDown(f"{url} refused the question: HTTP {response.status_code} "
                                  f"{response.text[:200]}")
            return response
        raise ServiceDown(f"{url} did not answer after {self.retries + 1} tries ({last})")

    def _grade(self, answer: dict[str, Any] | None) -> Outcome:
        if answer is None:
            return Outcome("not_found")
        if (answer.get("score") or 0) < self.min_score:
            return Outcome("low_score", answer)
        return Outcome("found", answer)

    # -- single look-ups ---------------------------------------------------------------------

    def search(self, q: str, postcode: str | None = None) -> Outcome:
        """The best address for `q` (postcode: a filter)."""
        key = search_key(q, postcode)
        cached = self.cache.get_many("search", [key]) if self.cache else {}
        if key in cached:
            return self._grade(cached[key])
        params = {"q": q, "limit": 1, **({"postcode": postcode} if postcode else {})}
        try:
            data = self._call("GET", "/search/", params=params).json()
        except (ServiceDown, ValueError) as exc:
            return Outcome("unavailable", error=str(exc))
        features = data.get("features") or []
        answer = _from_feature(features[0]) if features else None
        if self.cache:
            self.cache.put_many("search", {key: answer})
        return self._grade(answer)

    def reverse(self, lon: float, lat: float) -> Outcome:
        """The nearest address of a point: its commune (citycode), postcode, city."""
        key = reverse_key(lon, lat)
        cached = self.cache.get_many("reverse", [key]) if self.cache else {}
        if key in cached:
            answer = cached[key]
            return Outcome("found", answer) if answer else Outcome("not_found")
        try:
            data = self._call("GET", "/reverse/", params={"lon": lon, "lat": lat,
                                                           "limit": 1}).json()
        except (ServiceDown, ValueError) as exc:
            return Outcome("unavailable", error=str(exc))
        features = data.get("features") or []
        answer = _from_feature(features[0]) if features else None
        if self.cache:
            self.cache.put_many("reverse", {key: answer})
        return Outcome("found", answer) if answer else Outcome("not_found")

    # -- batches -----------------------------------------------------------------------------

    def search_batch(self, rows: Mapping[str, tuple[str, str | None, str | None]]
                     ) -> dict[str, Outcome]:
        """Outcomes of many addresses, {key: (street, postcode, city)}, through the CSV
        endpoint, `batch_rows` at a time; answers already cached are not asked again."""
        keys = {k: search_key(" ".join(p for p in v if p), None) for k, v in rows.items()}
        cached = self.cache.get_many("search", set(keys.values())) if self.cache else {}
        out: dict[str, Outcome] = {}
        asking: dict[str, tuple[str, str | None, str | None]] = {}
        for key, question in keys.items():
            if question in cached:
                out[key] = self._grade(cached[question])
            elif question not in asking:
                asking[question] = rows[key]
        answers: dict[str, dict[str, Any] | None] = {}
        pending = list(asking.items())
        error = None
        for start in range(0, len(pending), self.batch_rows):
            try:
                found = self._post_csv(pending[start:start + self.batch_rows])
            except ServiceDown as exc:
                error = str(exc)  # the rest is left unanswered
                break
            answers.update(found)
            if self.cache:
                self.cache.put_many("search", found)
        for key, question in keys.items():
            if key in out:
                continue
            out[key] = (self._grade(answers[question]) if question in answers
                        else Outcome("unavailable", error=error))
        return out

    def _post_csv(self, chunk: list[tuple[str, tuple[str, str | None, str | None]]]
                  ) -> dict[str, dict[str, Any] | None]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["atlas_key", "address", "postcode", "city"])
        for index, (_question, (street, postcode, city)) in enumerate(chunk):
            writer.writerow([index, street or "", postcode or "", city or ""])
        response = self._call(
            "POST", "/search/csv/",
            files={"data": ("addresses.csv", buffer.getvalue().encode(),
                            "text/csv; charset=utf-8")},
            data=[("columns", "address"), ("columns", "postcode"), ("columns", "city")])
        found: dict[str, dict[str, Any] | None] = {}
        try:
            for row in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))):
                question = chunk[int(row["atlas_key"])][0]
                found[question] = _from_row(row)
        except (KeyError, ValueError, IndexError) as exc:
            raise ServiceDown(f"{self.base_url}/search/csv/ gave an answer that is not the "
                              f"expected CSV ({exc})") from None
        for question, _row in chunk:
            found.setdefault(question, None)
        return found
