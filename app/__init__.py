"""Atlas des communs: an open-data map and directory of commons and third places."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .config import PROJECT_ROOT, ConfigurationError, from_environment, to_sqlalchemy_url

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application; `config` overrides what the environment says.

    Flask, SQLAlchemy and the extensions are imported here, not with the package: a
    second of CPU that `python -m app.localdb` and `atlas static-dir` need not pay."""
    from flask import Flask
    from sqlalchemy.orm import configure_mappers

    from .extensions import db
    from .migrate import init_migrate

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

    if app.config.get("PASSWORD_HASHING", "standard") != "standard" and not app.testing:
        raise ConfigurationError("PASSWORD_HASHING other than 'standard' is for test runs only "
                                 "(TESTING): passwords are hashed with argon2's standard cost.")

    # Even with engine options of its own, the pool tests connections before use.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}), "pool_pre_ping": True}
    db.init_app(app)
    init_migrate(app, directory=str(PROJECT_ROOT / "migrations"))  # Alembic: on first use
    from .http.locale import init_locale

    init_locale(app)  # the page's language (Flask-Babel) and its template helpers
    from .licences import data_licence, describe

    app.jinja_env.globals["data_licence"] = lambda: describe(data_licence())
    from .identity import identity

    # Who runs the site and where (ATLAS_SITE_NAME, ATLAS_PUBLISHER_NAME…): every template.
    app.jinja_env.globals["site"] = identity(app.config)

    from . import models  # noqa: F401  (registers the tables)

    # Relationships are resolved now, not by the first query: a Ctrl-C (or a SIGTERM)
    # landing in that lazy step left the registry half-configured, and the import's
    # ledger then failed to record the interruption (test_modes).
    configure_mappers()
    from .api import init_api
    from .api.v1 import blp as api_v1_bp
    from .auth import bp as auth_bp
    from .auth import init_auth
    from .cli import register_cli
    from .editor import bp as editor_bp
    from .exports.gogocarto_api import bp as gogocarto_bp
    from .exports.views import blp as exports_bp
    from .health import bp as health_bp
    from .http.compression import init_compression
    from .http.cors import init_cors
    from .http.errors import init_error_pages
    from .http.headers import init_headers
    from .http.input_guard import init_input_guard
    from .http.outage import init_outage
    from .ogc.views import bp as ogc_bp
    from .web import bp as web_bp

    init_input_guard(app)  # first: its check runs before every other hook
    # Every blueprint of the app is registered here, and only here.
    app.register_blueprint(health_bp)  # /healthz
    app.register_blueprint(web_bp)  # citizen pages
    init_auth(app)  # sessions, CSRF, login limits
    app.register_blueprint(auth_bp)  # /login, /logout
    app.register_blueprint(editor_bp)  # /editor, /suggest
    init_cors(app)
    init_compression(app)
    api = init_api(app)  # the OpenAPI document (/api) and its /api/docs pages
    api.register_blueprint(api_v1_bp)  # /api/v1, documented in the OpenAPI document
    api.register_blueprint(exports_bp)  # /api/v1/exports, documented there too
    app.register_blueprint(ogc_bp)  # /ogc
    app.register_blueprint(gogocarto_bp)  # /api/v1/gogocarto: GoGoCarto's elements API, live
    init_error_pages(app)
    init_headers(app)
    init_outage(app)
    register_cli(app)
    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    return app
