"""The page's language: ?lang= (the visible switch), its cookie, then Accept-Language.

Every page for people (citizen pages, login, editor) uses it: `init_locale(app)`
sets Flask-Babel's selector and the template helpers app-wide, and each page
blueprint adds `fresh_locale` before its requests and `page_headers` after them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import flask_babel
from flask import Flask, current_app, request
from flask_babel import get_locale
from werkzeug.wrappers import Response

from ..extensions import babel

LANG_COOKIE = "lang"
LANG_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}


def select_locale() -> str:
    """?lang= first (the visible switch), then the cookie it sets, then Accept-Language."""
    languages = current_app.config["LANGUAGES"]
    asked = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
    if asked in languages:
        return asked
    return request.accept_languages.best_match(languages) or languages[0]


def locale_code() -> str:
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])


def lang_url(code: str, external: bool = False) -> str:
    """The current page in language `code` (keeps its other parameters)."""
    pairs = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    pairs.append(("lang", code))
    base = request.base_url if external else request.path
    return f"{base}?{urlencode(pairs)}"


def fresh_locale() -> None:
    """Flask-Babel caches the locale on `g`, which outlives a request when the caller
    pushed the app context (tests, scripts): choose it again for every request."""
    flask_babel.refresh()


def page_headers(response: Response) -> Response:
    """The language cookie of the visible switch; pages vary with it and Accept-Language.

    The security headers are the app's, on every answer (app/http/headers.py).
    """
    asked = request.args.get("lang")
    if asked in current_app.config["LANGUAGES"]:
        response.set_cookie(LANG_COOKIE, asked, max_age=LANG_COOKIE_AGE, samesite="Lax",
                            httponly=True, secure=request.is_secure)
    if response.mimetype == "text/html":
        response.vary.update(("Cookie", "Accept-Language"))
    return response


def locale_helpers() -> dict[str, Any]:
    return {"locale": locale_code, "lang_url": lang_url, "language_names": LANGUAGE_NAMES}


def init_locale(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["get_locale"] = get_locale
    app.context_processor(locale_helpers)
