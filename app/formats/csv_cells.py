"""CSV text cells that a spreadsheet will not run as formulas (OWASP "CSV injection").

Every CSV we write passes its text cells through `escape_cell`: a cell starting with
`=`, `+`, `-`, `@`, a tab or a carriage return gets a leading single quote, which
spreadsheets show as text and do not evaluate. Numbers (lon, lat, counts) are not
text and stay as they are. So that reading our own files back is lossless, a cell
that already starts with quotes followed by one of those characters also gets one
more quote: `unescape_cell` removes exactly one quote, from exactly those cells.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

TRIGGERS = "=+-@\t\r"
_STARTS = frozenset(TRIGGERS + "'")
_NEEDS_QUOTE = re.compile(r"'*[=+\-@\t\r]")
_QUOTED = re.compile(r"'+[=+\-@\t\r]")
NOTE = ("Text cells that would start with =, +, -, @, a tab or a carriage return are "
        "prefixed with a single quote (OWASP CSV injection guidance), so that spreadsheets "
        "do not run them as formulas; numbers are written as they are. `flask import dump` "
        "and `flask import csv` remove that quote when they read this file back.")


def escape_cell(value: str) -> str:
    """`value`, prefixed with "'" when a spreadsheet would take it for a formula."""
    if value and value[0] in _STARTS and _NEEDS_QUOTE.match(value):
        return "'" + value
    return value


def unescape_cell(value: str | None) -> str | None:
    """The text `escape_cell` was given: one leading quote removed, where it added one."""
    if value and value[0] == "'" and _QUOTED.match(value):
        return value[1:]
    return value


def escape_row(cells: Iterable[object]) -> list[object]:
    """A row with its text cells escaped; other values (numbers) left for the writer."""
    return [escape_cell(c) if isinstance(c, str) else c for c in cells]
