"""Configuration from the environment, with defaults that serve Lille out of the box.

The instance's identity (name, territory, publisher, contact) is app/identity.py's part.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

PACKAGE_DIR = Path(__file__).resolve().parent
# An installed wheel carries the run-time files (templates, static, migrations, compiled
# translations, data) in app/_share (setup.py copies them there); a checkout has them at
# its root. PROJECT_ROOT is where they are, so the same paths serve both.
BUNDLE_DIR = PACKAGE_DIR / "_share"
INSTALLED = (BUNDLE_DIR / "templates").is_dir()
PROJECT_ROOT = BUNDLE_DIR if INSTALLED else PACKAGE_DIR.parent


class ConfigurationError(RuntimeError):
    """A setting the operator must give; the message says which and how."""


def state_dir() -> Path | None:
    """Where the app keeps its own files (generated secret key, backups): ATLAS_STATE_DIR,
    else var/ in a checkout; an installed package has none unless told."""
    if os.environ.get("ATLAS_STATE_DIR"):
        return Path(os.environ["ATLAS_STATE_DIR"])
    return None if INSTALLED else PROJECT_ROOT / "var"

OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = ('&copy; <a href="https://www.openstreetmap.org/copyright">'
                   "OpenStreetMap</a> contributors")


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the state
    directory (var/ in a checkout)."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    folder = state_dir()
    if folder is None:
        raise ConfigurationError(
            "SECRET_KEY is not set. Set it in the environment file (deploy/atlas.env.example: "
            "SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')), "
            "or set ATLAS_STATE_DIR to a folder where one is generated and kept.")
    path = folder / "secret_key"
    if not path.exists():
        # Workers starting together must all read one whole key: each writes its own to
        # a private temporary file, and only the first link to the name wins.
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".secret_key.", dir=path.parent)  # mode 600
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # another worker was first
                os.link(temp, path)
        finally:
            os.unlink(temp)
    return path.read_text().strip()


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc


def _count(name: str) -> int:
    raw = os.environ.get(name, "").strip()
    if raw == "":
        return 0
    if not raw.isdigit():
        raise ConfigurationError(f"{name} must be a whole number (how many proxies stand "
                                 f"in front of the app, 0 for none), got {raw!r}")
    return int(raw)


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def from_environment() -> dict[str, Any]:
    """Settings read from the environment; DATABASE_URL is required (create_app says so)."""
    from .geocoding.config import settings as geocoder_settings
    from .identity import settings as identity_settings
    from .territory import settings as territory_settings

    https = _flag("ATLAS_HTTPS")
    state = state_dir()
    return {
        "SECRET_KEY": _secret_key(),
        "DATABASE_URL": os.environ.get("DATABASE_URL") or None,
        "PORT": int(os.environ.get("PORT", "5000")),
        "TILE_URL": os.environ.get("ATLAS_TILE_URL", OSM_TILES),
        "TILE_ATTRIBUTION": os.environ.get("ATLAS_TILE_ATTRIBUTION", OSM_ATTRIBUTION),
        "BABEL_DEFAULT_LOCALE": "fr",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Paris",
        "LANGUAGES": ("fr", "en"),
        # Interface strings are English msgids; translations/fr holds the French.
        "BABEL_TRANSLATION_DIRECTORIES": str(PROJECT_ROOT / "translations"),
        # Times in JSON built by PostgreSQL follow the session's time zone: UTC
        # everywhere, as in the features the database stores (migration 0007).
        # A pooled connection is tested before use (pool_pre_ping): after a restart of
        # the server, dead ones are replaced instead of failing a request; an
        # unreachable host fails in seconds instead of holding a worker.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True,
                                      "connect_args": {"options": "-c timezone=UTC",
                                                       "connect_timeout": 10}},
        "JSON_SORT_KEYS": False,
        # Recent JSON answers kept per worker, by data state and URL (0: none).
        "RESPONSE_CACHE_MB": float(os.environ.get("ATLAS_RESPONSE_CACHE_MB", "64")),
        # The map sends every marker in one file up to this many (fastest for small
        # atlases); above it, per-tile grid clusters computed in PostGIS (app/web/map_cells.py).
        "MAP_FILE_MAX_MARKERS": int(os.environ.get("ATLAS_MAP_FILE_MAX_MARKERS", "20000")),
        # Seconds an import's transaction may sit idle before the server ends it (and
        # its locks, and the change feed's wait for it): a client gone or stopped.
        # 0: never. A live import that waits for its reader keeps its session busy.
        "IMPORT_IDLE_TIMEOUT": _float("ATLAS_IMPORT_IDLE_TIMEOUT", 60),
        # Exports and sync: the licence of our own data (an export that holds data from
        # an ODbL source is ODbL whatever this says), the public address used in exports
        # made outside a request, and this instance's name for the platforms it pushes
        # to (their sources read remote:<name>). Who publishes: app/identity.py.
        "DATA_LICENCE": os.environ.get("ATLAS_DATA_LICENCE", "ODbL-1.0"),
        "BASE_URL": os.environ.get("ATLAS_BASE_URL") or None,
        "INSTANCE_NAME": os.environ.get("ATLAS_INSTANCE_NAME", "atlas"),
        # pg_dump/pg_restore's directory for `flask backup` when not the server's
        # /usr/lib/postgresql/<major>/bin.
        "PG_BINDIR": os.environ.get("ATLAS_PG_BINDIR") or None,
        # The scheduled jobs (`atlas jobs run NAME`): a TOML file (deploy/jobs.toml.example).
        "JOBS_FILE": os.environ.get("ATLAS_JOBS_FILE") or None,
        # Where `backup create` writes when given no file.
        "BACKUP_DIR": (os.environ.get("ATLAS_BACKUP_DIR")
                       or (str(state / "backups") if state else None)),
        # How many reverse proxies (nginx, Caddy) stand in front of the app: their
        # X-Forwarded-For/-Proto/-Host are believed, and only theirs (werkzeug's ProxyFix).
        # 0: none is, so a forged X-Forwarded-For sent straight to gunicorn changes nothing.
        "TRUSTED_PROXIES": _count("ATLAS_TRUSTED_PROXIES"),
        # The AGPL asks a network service to offer its source: the footer links here.
        "SOURCE_URL": os.environ.get("ATLAS_SOURCE_URL") or None,
        # Set by `make run` when it loads the Lille demo: the footer then says its
        # positions are approximate (a real instance's are not).
        "DEMO_DATA": os.environ.get("ATLAS_DEMO_DATA", "0") == "1",
        # Accounts: session cookies out of scripts' reach, not sent by other sites' forms,
        # and only over HTTPS when the site is served behind it (ATLAS_HTTPS=1).
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": https,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": https,
        "PREFERRED_URL_SCHEME": "https" if https else "http",
        # Behind HTTPS every answer carries HSTS (app/http/headers.py).
        "HTTPS": https,
        "PERMANENT_SESSION_LIFETIME": timedelta(days=14),
        # A volunteer may write a sheet for hours: the CSRF token lives as long as the session.
        "WTF_CSRF_TIME_LIMIT": None,
        # Rate limits (Flask-Limiter syntax); failed logins count per address and email.
        "LOGIN_RATE_LIMIT": os.environ.get("ATLAS_LOGIN_RATE_LIMIT", "5 per minute;20 per hour"),
        "SUGGEST_RATE_LIMIT": os.environ.get("ATLAS_SUGGEST_RATE_LIMIT", "5 per hour"),
        # Citizens' error reports per address (and per session) and hour (app/services/reports.py).
        "REPORTS_PER_HOUR": int(_float("ATLAS_REPORTS_PER_HOUR", 5)),
        "RATELIMIT_STORAGE_URI": os.environ.get("ATLAS_RATELIMIT_STORAGE_URI", "memory://"),
        # Forms may carry long texts; the schemas say what is too long, beside the field.
        "MAX_FORM_MEMORY_SIZE": 8 * 1024 * 1024,
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        **identity_settings(),
        **territory_settings(),
        **geocoder_settings(),
        **mail_settings(),
    }


def _seconds(name: str, default: int) -> int:
    value = _float(name, default)
    if value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
    return int(value)


def mail_settings() -> dict[str, Any]:
    """Email (app/mail): SMTP unset means mail is written to the log instead of sent."""
    from email.utils import formataddr

    from .identity import DEFAULT_SITE_NAME

    site = os.environ.get("ATLAS_SITE_NAME", "").strip() or DEFAULT_SITE_NAME
    ssl = _flag("ATLAS_SMTP_SSL")
    starttls = _flag("ATLAS_SMTP_STARTTLS")
    if ssl and starttls:
        raise ValueError("ATLAS_SMTP_SSL and ATLAS_SMTP_STARTTLS exclude each other: "
                         "SSL from the first byte (port 465) or STARTTLS (port 587)")
    port = os.environ.get("ATLAS_SMTP_PORT") or ("465" if ssl else "587" if starttls else "25")
    if not port.isdigit():
        raise ValueError(f"ATLAS_SMTP_PORT must be a port number, got {port!r}")
    return {
        "SMTP_HOST": os.environ.get("ATLAS_SMTP_HOST") or None,
        "SMTP_PORT": int(port),
        "SMTP_USER": os.environ.get("ATLAS_SMTP_USER") or None,
        "SMTP_PASSWORD": os.environ.get("ATLAS_SMTP_PASSWORD") or None,
        "SMTP_SSL": ssl,
        "SMTP_STARTTLS": starttls,
        "SMTP_TIMEOUT": _float("ATLAS_SMTP_TIMEOUT", 10),
        # Certificates to trust for the SMTP server beside the system's (a private CA).
        "SMTP_CA_FILE": os.environ.get("ATLAS_SMTP_CA_FILE") or None,
        "MAIL_FROM": os.environ.get("ATLAS_MAIL_FROM") or formataddr((site, "atlas@localhost")),
        # The language of mails sent to someone who is not asking right now.
        "MAIL_LOCALE": os.environ.get("ATLAS_MAIL_LOCALE", "fr"),
        # How long a password reset link and an invitation stay valid.
        "PASSWORD_RESET_MAX_AGE": _seconds("ATLAS_PASSWORD_RESET_MAX_AGE", 3600),
        "INVITATION_MAX_AGE": _seconds("ATLAS_INVITATION_MAX_AGE", 7 * 24 * 3600),
        # Reset requests, per address and per email asked for.
        "RESET_RATE_LIMIT": os.environ.get("ATLAS_RESET_RATE_LIMIT", "5 per hour"),
    }


def to_sqlalchemy_url(url: str) -> str:
    """Accept libpq-style URLs (postgres://, postgresql://) and pick our driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url
