"""The stored side of a sync: its cursor and the names of remotes (a pull's run record:
app.services.runs)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import select

from ..extensions import db
from ..models import SyncState

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,59}$")


def default_name(url: str) -> str:
    """A remote's name from its address: host, and port when there is one."""
    parts = urlsplit(url)
    host = (parts.hostname or "remote").lower()
    return f"{host}-{parts.port}" if parts.port else host


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise ValueError(f"{name!r} is not a remote name: lowercase letters, digits, '.', "
                         "'_' and '-', at most 60")
    return name


def sync_state(direction: str, url: str, name: str) -> SyncState:
    """The state of pulls from (or pushes to) `url`, created on first use."""
    url = url.rstrip("/")
    state = db.session.scalar(select(SyncState).where(SyncState.direction == direction,
                                                      SyncState.url == url))
    if state is None:
        state = SyncState(direction=direction, url=url, name=name)
        db.session.add(state)
    elif state.name != name:
        raise ValueError(f"{url} is known here as {state.name!r}, not {name!r}: its entries "
                         f"carry the source remote:{state.name}")
    state.started_at = datetime.now(UTC)
    db.session.commit()
    return state
