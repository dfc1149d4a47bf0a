"""The write services' messages (English, as the API gives them) in the page's language.

The services and schemas speak English for every caller; the forms show their
messages beside the fields, translated here. A message without a translation is
shown as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l

EXACT = {
    "This field is required.": _l("This field is required."),
    "Field may not be null.": _l("This field is required."),
    "Missing data for required field.": _l("This field is required."),
    "Not a valid email address.": _l("Not a valid email address (it needs an @)."),
    "Not a valid URL.": _l("Not a valid web address: start it with https:// or http://."),
    "Not a valid number.": _l("Not a valid number: use a dot or a comma for decimals."),
    "Not a valid integer.": _l("Not a whole number."),
    "Not a valid date.": _l("Not a valid date (day/month/year)."),
    "Unknown field.": _l("Unknown field."),
    "Special numeric values (nan or infinity) are not permitted.": _l("Not a valid number."),
    "Longitude must be between -180 and 180.": _l("Longitude must be between -180 and 180."),
    "Latitude must be between -90 and 90.": _l("Latitude must be between -90 and 90."),
    "Give both longitude and latitude, or neither.":
        _l("Give both longitude and latitude, or neither."),
    "A third place needs a position (lon and lat).":
        _l("A third place needs a position: place it on the map or type its coordinates."),
    "Use a two-letter ISO 3166-1 code such as FR.":
        _l("Use a two-letter country code such as FR."),
    "Use digits, spaces and + ( ) . - only.": _l("Use digits, spaces and + ( ) . - only."),
    "Use lowercase letters, digits and single hyphens.":
        _l("Use lowercase letters, digits and single hyphens."),
    "This slug is already used by another entry.":
        _l("This address is already used by another entry."),
    "An entry cannot be related to itself.": _l("An entry cannot be related to itself."),
    "The position is outside -180..180, -90..90.":
        _l("The position is outside -180..180, -90..90."),
    "Unknown evaluation key.": _l("Unknown evaluation key."),
    "This proposal was already reviewed.": _l("This proposal was already reviewed."),
    "Say why, so that the contributor can understand.":
        _l("Say why, so that the contributor can understand."),
    "At least 10 characters.": _l("At least 10 characters."),
}

PATTERNS = [
    (re.compile(r"^Between (\d+) and (\d+) characters\.$"),
     lambda m: _l("Between %(min)s and %(max)s characters.", min=m[1], max=m[2])),
    (re.compile(r"^At most (\d+) characters\.$"),
     lambda m: _l("At most %(max)s characters.", max=_thousands(m[1]))),
    (re.compile(r"^Longer than maximum length (\d+)\.$"),
     lambda m: _l("At most %(max)s characters.", max=_thousands(m[1]))),
    (re.compile(r"^A level from (\d+) to (\d+), or none\.$"),
     lambda m: _l("A level from %(min)s to %(max)s, or none.", min=m[1], max=m[2])),
    (re.compile(r"^A year between (\d+) and (\d+)\.$"),
     lambda m: _l("A year between %(min)s and %(max)s.", min=m[1], max=m[2])),
    (re.compile(r"^Unknown tag '(.*)'\.$"),
     lambda m: _l("Unknown tag “%(value)s”.", value=m[1])),
    (re.compile(r"^No entry '(.*)'\.$"),
     lambda m: _l("No entry “%(value)s”: choose one from the suggestions.", value=m[1])),
    (re.compile(r"^Must be one of: (.*)\.$"),
     lambda m: _l("Choose one of: %(values)s.", values=m[1])),
    (re.compile(r"^Refused by the database \((.*)\)\.$"),
     lambda m: _l("Refused by the database (%(name)s).", name=m[1])),
]


def _thousands(digits: str) -> str:
    from flask_babel import format_decimal

    return format_decimal(int(digits))


def translate(message: Any) -> str:
    text = str(message)
    if text in EXACT:
        return str(EXACT[text])
    for pattern, make in PATTERNS:
        match = pattern.match(text)
        if match:
            return str(make(match))
    return text


def translate_all(messages: Iterable[Any]) -> list[str]:
    return [translate(m) for m in messages]


def field_errors(messages: dict[str, Any]) -> dict[str, list[str]]:
    """{field: [translated message, …]} from a WriteValidationError's messages."""
    out: dict[str, list[str]] = {}
    for name, value in messages.items():
        values = value if isinstance(value, list) else [value]
        out[name] = translate_all(values)
    return out
