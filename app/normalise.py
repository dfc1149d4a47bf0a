"""One spelling for the same text, whoever sends it.

Browsers send a textarea's line ends as CRLF, some programs send "é" as "e" plus a
combining accent, editors leave blanks at line ends. Stored as sent, the same words
read as a change: a form saved unchanged wrote a revision and showed a "Description"
change nobody made, and a mirror then reported a conflict. Every input schema
(app/schemas/common.py) passes each string through `normalise_text`, and migration
0008 applied it to what was stored before.

Markdown gives trailing blanks one meaning: two or more spaces before the end of a
line followed by another line of the same paragraph are a hard line break. Those are
kept, as exactly two spaces; all other trailing spaces and tabs go (in code blocks
too: nobody means them).
"""

from __future__ import annotations

import unicodedata

HARD_BREAK = "  "


def normalise_text(value: str) -> str:
    """`value` with LF line ends, in Unicode NFC, without blanks at line ends but for
    Markdown hard line breaks (kept as two spaces)."""
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    if not value.isascii():
        value = unicodedata.normalize("NFC", value)
    if " \n" not in value and "\t\n" not in value and not value.endswith((" ", "\t")):
        return value
    lines = value.split("\n")
    last = len(lines) - 1
    for index, line in enumerate(lines):
        stripped = line.rstrip(" \t")
        if len(stripped) == len(line):
            continue
        hard_break = (line.endswith(HARD_BREAK) and stripped and index < last
                      and lines[index + 1].strip(" \t"))
        lines[index] = stripped + HARD_BREAK if hard_break else stripped
    return "\n".join(lines)


def clean_text(value: str) -> str | None:
    """What an input schema stores for a string: normalised, stripped, None if blank.

    Also how a mirror reads another instance's text before comparing it with its own.
    """
    value = normalise_text(value).strip()
    return value or None
