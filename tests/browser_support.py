"""Headless Chromium settings for the browser tests, the benchmarks and the screenshots."""

from __future__ import annotations

from playwright.sync_api import Route

# Debian's Chromium, never a downloaded one. The background-networking flags keep it from
# calling home: this machine has no internet, and those calls would fail many at a time.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def loopback_only(route: Route) -> None:
    """Let requests to this machine through and refuse the rest (tiles included)."""
    host = route.request.url.split("/")[2].split(":")[0]
    if host in ("127.0.0.1", "localhost"):
        route.continue_()
    else:
        route.abort("internetdisconnected")
