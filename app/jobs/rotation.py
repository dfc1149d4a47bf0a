"""Backup rotation: keep the newest N dumps of a database, delete the older ones.

Only files named as `flask backup create` names them (atlas-<database>-<UTC time>.dump)
are counted and deleted, with the data package the backup job writes beside each:
another database's dumps, a copy renamed by hand, anything else in the folder is left
alone. The names sort by time, so the newest are the last.
"""

from __future__ import annotations

import re
from pathlib import Path

from .publish import PACKAGE_SUFFIX


def rotate(folder: Path, database: str, keep: int) -> list[Path]:
    """Delete all but the `keep` newest backups of `database` in `folder`; return those
    deleted. Called after a backup succeeded, so the newest is the one just made."""
    if keep < 1:
        raise ValueError("keep must be 1 or more")
    pattern = re.compile(rf"^atlas-{re.escape(database)}-\d{{8}}T\d{{6}}Z\.dump$")
    ours = sorted(p for p in folder.iterdir() if p.is_file() and pattern.match(p.name))
    old = ours[:-keep]
    for path in old:
        path.unlink(missing_ok=True)
        # The data package written beside it goes with it.
        path.with_name(path.stem + PACKAGE_SUFFIX).unlink(missing_ok=True)
    return old
