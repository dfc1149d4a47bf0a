"""HTTP to another instance: retries with exponential back-off, then a clear error.

requests with urllib3's Retry: a refused connection, a dropped answer, a 429 or a
5xx is tried again after 0, 2×, 4×… `backoff` seconds (Retry-After is obeyed),
`retries` times. Every request a sync sends is idempotent (GET; PUT and DELETE
guarded by If-Match / If-None-Match), so a replay after a lost answer is safe.
When the tries run out, `RemoteError` says which instance and why; the caller
keeps its cursor, so the next run resumes.
"""

from __future__ import annotations

import threading
from typing import Any

import orjson
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

RETRY_STATUSES = (429, 500, 502, 503, 504)
USER_AGENT = "atlas-des-communs-sync/1"


class RemoteError(RuntimeError):
    """The other instance cannot be reached, or answered in a way a sync cannot go on from."""


class Remote:
    def __init__(self, base_url: str, *, token: str | None = None, retries: int = 5,
                 backoff: float = 1.0, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self._token = token
        self._retry = Retry(total=retries, connect=retries, read=retries, status=retries,
                            other=0, backoff_factor=backoff, backoff_max=60,
                            status_forcelist=RETRY_STATUSES, allowed_methods=None,
                            respect_retry_after_header=True, raise_on_status=False)
        # One requests session per thread (a push sends from two): sessions are not
        # documented as thread-safe.
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()

    @property
    def session(self) -> requests.Session:
        """This thread's session (its own connection pool, retries and headers)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(max_retries=self._retry)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers["User-Agent"] = USER_AGENT
            session.headers["Accept"] = "application/json"
            if self._token:
                session.headers["Authorization"] = f"Bearer {self._token}"
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            response = self.session.request(method, self.url(path), timeout=self.timeout,
                                            **kwargs)
        except requests.RequestException as exc:
            raise RemoteError(f"{self.base_url} could not be reached after "
                              f"{self.retries + 1} tries: {_reason(exc)}") from None
        if response.status_code in RETRY_STATUSES:
            raise RemoteError(f"{self.base_url} still answers {response.status_code} after "
                              f"{self.retries + 1} tries ({method} {path}).")
        return response

    def get_json(self, path: str, **params: Any) -> Any:
        response = self.request("GET", path, params=params)
        if response.status_code != 200:
            raise RemoteError(f"GET {self.url(path)}: {response.status_code} "
                              f"{problem_detail(response)}")
        try:
            return orjson.loads(response.content)  # pages of a thousand entries: not json's
        except ValueError:
            raise RemoteError(f"GET {self.url(path)}: the answer is not JSON") from None

    def close(self) -> None:
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()


def problem_detail(response: requests.Response) -> str:
    """What a problem+json answer says (its detail and invalid-params), else its text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if not isinstance(body, dict):
        return str(body)[:300]
    params = body.get("invalid-params") or []
    if params:
        return "; ".join(f"{p.get('name')}: {p.get('reason')}" for p in params)
    return str(body.get("detail") or body.get("title") or body)[:300]


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    return text[:200]
