"""Why two ids were linked, in the reader's language.

The links are recorded with a reason in English, for the command line and the run
reports (app/services/twin_rule.py `twin_reason`, app/services/links.py, the demo
loader); the editors' pages say the same in their language. A reason of another form
is shown as it was recorded.
"""

from __future__ import annotations

import re

from flask_babel import gettext as _

_NEAR = re.compile(r"^(?P<m>\d+) m from (?P<q>['\"])(?P<name>.*)(?P=q), similar name")
_WEBSITE = re.compile(r"^same website as (?P<q>['\"])(?P<name>.*)(?P=q)$")
_KNOWN = re.compile(r"^the same entry \(known here as (?P<id>[^)]+)\)$")


def reason_text(reason: str | None) -> str:
    """`reason` as the editors' pages say it."""
    text = (reason or "").strip()
    if match := _NEAR.match(text):
        return _("within %(meters)s m, with a similar name (“%(name)s”)",
                 meters=match["m"], name=match["name"])
    if match := _WEBSITE.match(text):
        return _("the same website as “%(name)s”", name=match["name"])
    if match := _KNOWN.match(text):
        return _("the same identifier (%(id)s)", id=match["id"])
    if text in ("the demo entry's stable id", "the demo sheet's stable id"):
        return _("the demo's stable identifier")
    if text == "the same entry, title and meeting date":
        return _("the same entry, title and meeting date")
    return text
