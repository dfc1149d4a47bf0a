"""Atlas des communs: an open-data map and directory of commons and third places."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, request

from .config import PROJECT_ROOT, ConfigurationError, from_environment, to_sqlalchemy_url
from .extensions import babel, db, migrate


def select_locale() -> str:
    """?lang= first (the visible switch), then the cookie it sets, then Accept-Language."""
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    asked = request.args.get("lang") or request.cookies.get("lang")
    if asked in languages:
        return asked
    return request.accept_languages.best_match(languages) or languages[0]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application; `config` overrides what the environment says."""
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(from_environment())
    if config:
        app.config.update(config)

    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        url = app.config.get("DATABASE_URL")
        if not url:
            # Never a database started as a side effect of importing the app: the
            # Makefile (or `python -m app.localdb start`) starts the local one.
            raise ConfigurationError(
                "DATABASE_URL is not set: give the PostgreSQL + PostGIS database, e.g. "
                "DATABASE_URL=postgresql://atlas:PASSWORD@127.0.0.1:5432/atlas. In a checkout, "
                "`make run` starts the local one; by hand: `python -m app.localdb start` then "
                "export DATABASE_URL=$(python -m app.localdb url).")
        app.config["SQLALCHEMY_DATABASE_URI"] = to_sqlalchemy_url(url)

    # Even with engine options of its own, the pool tests connections before use.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}), "pool_pre_ping": True}
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    babel.init_app(app, locale_selector=select_locale)
    from flask_babel import get_locale

    app.jinja_env.globals["get_locale"] = get_locale
    from .licences import data_licence, describe

    app.jinja_env.globals["data_licence"] = lambda: describe(data_licence())

    from . import models  # noqa: F401  (registers the tables)
    from .api.health import bp as health_bp
    from .cli import register_cli
    from .input_guard import init_input_guard
    from .web import bp as web_bp

    init_input_guard(app)  # first: its check runs before every other hook
    app.register_blueprint(health_bp)
    app.register_blueprint(web_bp)
    from .auth import init_auth
    from .editor import init_editor

    init_auth(app)
    init_editor(app)
    from .api import init_api

    init_api(app)
    from .headers import init_headers
    from .outage import init_outage

    init_headers(app)
    init_outage(app)
    register_cli(app)
    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    return app
