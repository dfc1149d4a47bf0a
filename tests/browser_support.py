"""Headless Chromium for the browser tests, the benchmarks and the screenshots."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, Dialog, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

# Debian's Chromium, never a downloaded one. The background-networking flags keep it from
# calling home: this machine has no internet, and those calls would fail many at a time.
# Every host name but 127.0.0.1 resolves to nothing, so pages reach this machine only
# (tiles fail at once). Done by the resolver, not by intercepting each request: Playwright
# routing turns the HTTP cache off and costs a round trip per request (a third of the
# browser tests' CPU).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]


AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"


def axe_serious(page: Page) -> list[tuple[str, str, list[Any]]]:
    """axe-core's serious and critical violations on the page as it is now, in a page
    made with `axe=True`. axe comes as an init script of the context, not a script tag
    added to each page: no 500 kB sent over the driver's pipe and parsed again per page
    (0.2 s of CPU a page), no CSP bypass."""
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:5])
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


class Watched:
    """A page plus what went wrong in it: script errors, CSP refusals, tiles tried."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.outside: list[str] = []
        self._handlers: list[tuple[str, Callable[..., None]]] = [
            ("pageerror", lambda exc: self.errors.append(str(exc))),
            ("console", lambda msg: self.errors.append(msg.text)
             if msg.type == "error" and "Content Security Policy" in msg.text else None),
            ("requestfailed", lambda req: self.outside.append(req.url)
             if "127.0.0.1" not in req.url else None),
        ]
        for event, handler in self._handlers:
            page.on(event, handler)

    def detach(self) -> None:
        """Stop watching: the page goes on to another test (Tabs)."""
        for event, handler in self._handlers:
            self.page.remove_listener(event, handler)


class Tabs:
    """Pages kept open between the browser tests of a run, one context each, and handed
    out again once reset. A new context and page costs Chromium a renderer process, about
    a second of CPU, twice to three times what loading a page into an open tab costs; most
    browser tests open one or two pages. A context is made with its base URL, so modules
    share them by serving their apps on one origin (`browser_origin` in tests/conftest.py).

    What can be set on an open page is set on it for each test (size, axe, geolocation,
    permissions), so a page is kept apart only for what its context is made with
    (phone emulation, scripts off…). The reset (`give_back`) navigates to about:blank,
    then undoes what a test can leave behind: cookies, the HTTP cache, every storage of
    the origin (localStorage, IndexedDB, Cache API, service workers; not sessionStorage,
    which the site does not use), permissions, geolocation, axe, routes, emulated media.
    What it cannot undo, a page's own init script, a test removes itself
    (`with page.add_init_script(...)`)."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.free: dict[str, list[Page]] = {}
        self.contexts: list[BrowserContext] = []

    def take(self, key: str, new: Callable[[], Page]) -> Page:
        pages = self.free.get(key)
        if pages:
            return pages.pop()
        page = new()
        self.contexts.append(page.context)
        return page

    def give_back(self, key: str, page: Page, origin: str, undo: list[Any]) -> None:
        """Reset `page` for the next test with the same key; closed if it cannot be.
        `undo`: what the test was given on top of its context (init scripts)."""
        try:
            if page.is_closed():
                raise RuntimeError("closed by its test")
            page.unroute_all(behavior="ignoreErrors")
            page.goto("about:blank")
            for script in undo:
                script.close()
            page.emulate_media(media="null")
            context = page.context
            cdp = context.new_cdp_session(page)
            cdp.send("Storage.clearDataForOrigin", {"origin": origin, "storageTypes": "all"})
            cdp.send("Network.clearBrowserCache")
            cdp.detach()
            context.clear_cookies()
            context.clear_permissions()
            context.set_geolocation(None)
        except (PlaywrightError, RuntimeError):  # cannot be reset: not reused
            self.contexts.remove(page.context)
            page.context.close()
            return
        self.free.setdefault(key, []).append(page)

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.contexts.clear()
        self.free.clear()


def playwright_disabled_features() -> list[str]:
    """The features Playwright's own launch turns off, read from its installed driver
    (`disabledFeatures` in its Chromium switches); [] when that list is not found."""
    import playwright

    bundle = Path(playwright.__file__).parent / "driver/package/lib/coreBundle.js"
    try:
        source = bundle.read_text(encoding="utf-8")
        start = source.index("disabledFeatures = [")
        block = source[start:source.index("]", start)]
    except (OSError, ValueError):
        return []
    return re.findall(r'^\s*"([A-Za-z0-9]+)",?\s*$', block, re.MULTILINE)


def chromium_args_for_tests() -> list[str]:
    """CHROMIUM_ARGS, plus RenderDocument off for the test run: a page loaded into an
    open tab then reuses its frame instead of making a new one per document, about 14 %
    of Chromium's CPU over the same 40 loads (3 alternated pairs, /tmp/rdbench.py).
    Chromium keeps only the last --disable-features, so ours repeats Playwright's list
    (its features that call home, HTTPS upgrades…); without that list, nothing is added.
    Not for the benchmarks: they measure the browser as visitors have it."""
    features = playwright_disabled_features()
    if not features:
        return CHROMIUM_ARGS
    return [*CHROMIUM_ARGS, "--disable-features=" + ",".join([*features, "RenderDocument"])]


@contextmanager
def launched_chromium() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=chromium_args_for_tests())
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def page_maker(browser: Browser, base_url: str, *, height: int = 800,
               accept_dialogs: bool = False,
               tabs: Tabs | None = None) -> Iterator[Callable[..., Watched]]:
    """Open watched pages on `base_url` (French; this machine only: CHROMIUM_ARGS); on
    exit, close them (or hand them back to `tabs`, reset) and fail the test if any page
    had a script error or a CSP refusal."""
    contexts: list[BrowserContext] = []
    taken: list[tuple[str, Page, list[Any]]] = []
    watched: list[Watched] = []
    dialogs: list[Page] = []

    def accept(dialog: Dialog) -> None:
        dialog.accept()

    def new_page(viewport: dict[str, int], axe: bool, options: dict[str, Any]) -> Page:
        context = browser.new_context(viewport=viewport, locale="fr-FR", base_url=base_url,
                                      **options)
        if axe:
            context.add_init_script(path=str(AXE))
        return context.new_page()

    def make(width: int = 1280, height: int = height, *, axe: bool = False,
             **options: Any) -> Watched:
        """A page in a context of its own; with `axe`, axe-core is in each of its
        documents (for axe_serious), under the pages' own CSP."""
        viewport = {"width": width, "height": height}
        if tabs is None:
            page = new_page(viewport, axe, options)
            contexts.append(page.context)
        else:  # what an open page can be given is not part of the key
            geolocation = options.pop("geolocation", None)
            permissions = options.pop("permissions", None)
            key = repr((base_url, sorted(options.items())))
            page = tabs.take(key, lambda: new_page(viewport, False, options))
            if page.viewport_size != viewport:
                page.set_viewport_size(viewport)
            if geolocation:
                page.context.set_geolocation(geolocation)
            if permissions:
                page.context.grant_permissions(permissions)
            undo = [page.context.add_init_script(path=str(AXE))] if axe else []
            taken.append((key, page, undo))
        if accept_dialogs:  # not a Watched handler: dialogs wait for one, errors do not
            page.on("dialog", accept)
            dialogs.append(page)
        w = Watched(page)
        watched.append(w)
        return w

    yield make
    for w in watched:
        w.detach()
    for page in dialogs:
        page.remove_listener("dialog", accept)
    for context in contexts:
        context.close()
    if tabs is not None:
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(base_url))
        for key, page, undo in taken:
            tabs.give_back(key, page, origin, undo)
    for w in watched:
        assert not w.errors, w.errors


def post_login(page: Page, email: str, password: str) -> None:
    """Log `page`'s context in by the login form's POST, with the form's CSRF token, from
    the context's own requests (they share its cookies): no page is loaded."""
    request = page.context.request
    token = re.search(r'name="csrf_token" value="([^"]+)"', request.get("/login").text())
    assert token, "no CSRF token on /login"
    response = request.post("/login", max_redirects=0, form={
        "csrf_token": token.group(1), "email": email, "password": password})
    assert response.status == 303, (email, response.status)


class Logins:
    """Logs pages in: by the login form's POST (with its CSRF token) from the page's
    context the first time for an account, then by giving a later context the cookies
    that login got (the same server-side session, app/services/sessions.py). A test about
    something else than logging in loads neither the login page nor its post's landing
    page, about 1 s of Chromium's CPU each time; the form itself is used in a browser by
    tests/integration/test_citizens_browser.py."""

    def __init__(self, passwords: dict[str, str]) -> None:
        self.passwords = passwords  # email -> password
        self.cookies: dict[str, list[Any]] = {}

    def __call__(self, page: Page, email: str, then: str) -> None:
        """Log `page` in as `email`, then load the path `then`."""
        if email in self.cookies:
            page.context.add_cookies(self.cookies[email])
        else:
            post_login(page, email, self.passwords[email])
            self.cookies[email] = page.context.cookies()
        page.goto(then)
        landed = urlsplit(page.url)
        assert landed.path + (f"?{landed.query}" if landed.query else "") == then, \
            (then, page.url)  # not sent to the login form: the session holds
