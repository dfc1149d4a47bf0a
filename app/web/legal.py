"""The legal notice (`/legal`) and the privacy page (`/privacy`).

Both name the publisher and contact of this instance (app/identity.py). The privacy
page's default text says what the code keeps about people, and for how long, so it
must change with the models (app/models/user.py, proposal.py, revision.py,
import_run.py) and the sessions (app/services/sessions.py). An operator may replace
either text with a Markdown file (ATLAS_LEGAL_NOTICE_FILE, ATLAS_PRIVACY_FILE),
rendered sanitised like descriptions.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app, render_template
from markupsafe import Markup

from ..formats.markdown import render_markdown
from ..identity import identity
from ..licences import data_licence, describe
from . import bp


def _override(path: str | None) -> Markup | None:
    """The operator's text for a page, or None for the default one."""
    if not path:
        return None
    return render_markdown(Path(path).read_text(encoding="utf-8"))


@bp.get("/legal")
def legal() -> str:
    site = identity()
    return render_template("web/legal.html", text=_override(site.legal_notice_file),
                           licence=describe(data_licence()))


@bp.get("/privacy")
def privacy() -> str:
    config = current_app.config
    return render_template(
        "web/privacy.html", text=_override(identity().privacy_file),
        session_days=config["PERMANENT_SESSION_LIFETIME"].days,
        reset_minutes=config["PASSWORD_RESET_MAX_AGE"] // 60,
        invitation_days=max(1, config["INVITATION_MAX_AGE"] // 86400),
        mail_configured=bool(config.get("SMTP_HOST")))
