"""The write services' messages in the page's language, by their code.

The services and schemas speak English for every caller; each of their messages
carries a stable code and its parameters (app.services.errors.ErrorMessage). The
forms show them beside the fields, translated here by code, never by their English
wording: rewording a service's message breaks no translation. A message without a
code (or with a code unknown here) is shown as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask_babel import lazy_gettext as _l

Params = dict[str, Any]


def _thousands(value: Any) -> str:
    from flask_babel import format_decimal

    try:
        return format_decimal(int(value))
    except (TypeError, ValueError):
        return str(value)


def _fixed(text: Any) -> Callable[[Params], Any]:
    return lambda _params: text


BY_CODE: dict[str, Callable[[Params], Any]] = {
    "required": _fixed(_l("This field is required.")),
    "invalid_email": _fixed(_l("Not a valid email address (it needs an @).")),
    "invalid_url": _fixed(_l("Not a valid web address: start it with https:// or http://.")),
    "invalid_number": _fixed(_l("Not a valid number: use a dot or a comma for decimals.")),
    "special_number": _fixed(_l("Not a valid number.")),
    "invalid_integer": _fixed(_l("Not a whole number.")),
    "invalid_date": _fixed(_l("Not a valid date (day/month/year).")),
    "unknown_field": _fixed(_l("Unknown field.")),
    "longitude_range": _fixed(_l("Longitude must be between -180 and 180.")),
    "latitude_range": _fixed(_l("Latitude must be between -90 and 90.")),
    "position_pair": _fixed(_l("Give both longitude and latitude, or neither.")),
    "position_needed": _fixed(
        _l("A third place needs a position: place it on the map or type its coordinates.")),
    "position_range": _fixed(_l("The position is outside -180..180, -90..90.")),
    "country_code": _fixed(_l("Use a two-letter country code such as FR.")),
    "phone_format": _fixed(_l("Use digits, spaces and + ( ) . - only.")),
    "slug_format": _fixed(_l("Use lowercase letters, digits and single hyphens.")),
    "slug_taken": _fixed(_l("This address is already used by another entry.")),
    "self_relation": _fixed(_l("An entry cannot be related to itself.")),
    "unknown_key": _fixed(_l("Unknown evaluation key.")),
    "already_reviewed": _fixed(_l("This proposal was already reviewed.")),
    "reason_needed": _fixed(_l("Say why, so that the contributor can understand.")),
    "key_taken": _fixed(_l("A key with this address exists already (retired keys included).")),
    "tag_taken": _fixed(_l("A tag with this address exists already.")),
    "same_tag": _fixed(_l("Choose two different tags.")),
    "no_such_tag": _fixed(_l("No such tag.")),
    "level_definitions": lambda p: _l("Give %(levels)s definitions (levels %(min)s–%(max)s).",
                                      levels=p.get("levels"), min=p.get("min"),
                                      max=p.get("max")),
    "report_reason": _fixed(_l("Choose what is wrong.")),
    "report_handled": _fixed(_l("This report was already handled.")),
    "length_between": lambda p: _l("Between %(min)s and %(max)s characters.",
                                   min=p.get("min"), max=p.get("max")),
    "too_long": lambda p: _l("At most %(max)s characters.", max=_thousands(p.get("max"))),
    "too_short": lambda p: _l("At least %(min)s characters.", min=p.get("min")),
    "level_range": lambda p: _l("A level from %(min)s to %(max)s, or none.",
                                min=p.get("min"), max=p.get("max")),
    "year_range": lambda p: _l("A year between %(min)s and %(max)s.",
                               min=p.get("min"), max=p.get("max")),
    "unknown_tag": lambda p: _l("Unknown tag “%(value)s”.", value=p.get("value")),
    "no_such_entry": lambda p: _l("No entry “%(value)s”: choose one from the suggestions.",
                                  value=p.get("value")),
    "one_of": lambda p: _l("Choose one of: %(values)s.", values=p.get("choices")),
    "database_refused": lambda p: _l("Refused by the database (%(name)s).",
                                     name=p.get("name")),
    "siret_format": lambda p: _l("SIRET: 14 digits expected, not “%(value)s”.",
                                 value=p.get("value")),
    "siret_key": lambda p: _l("SIRET: invalid check digit (%(value)s).", value=p.get("value")),
    "rna_format": lambda p: _l("RNA: W followed by 9 digits expected, not “%(value)s”.",
                               value=p.get("value")),
    "wikidata_format": lambda p: _l("Wikidata: an item id such as Q42 expected, not "
                                    "“%(value)s”.", value=p.get("value")),
    "osm_object_format": lambda p: _l("OpenStreetMap object: node/, way/ or relation/ "
                                      "followed by its number expected, not “%(value)s”.",
                                      value=p.get("value")),
    "insee_code_format": _fixed(_l("INSEE code: five characters such as 59350 or 2A004.")),
    "opening_hours_syntax": lambda p: _l(
        "Opening hours: not valid OpenStreetMap syntax at character %(column)s (the "
        "parser says: %(detail)s).", column=p.get("column", "?"), detail=p.get("detail")),
}


def translate(message: Any) -> str:
    """`message` in the page's language, found by its code."""
    make = BY_CODE.get(getattr(message, "code", None) or "")
    if make is None:
        return str(message)
    return str(make(getattr(message, "params", {}) or {}))


def translate_all(messages: Iterable[Any]) -> list[str]:
    return [translate(m) for m in messages]


def field_errors(messages: dict[str, Any]) -> dict[str, list[str]]:
    """{field: [translated message, …]} from a WriteValidationError's messages."""
    out: dict[str, list[str]] = {}
    for name, value in messages.items():
        values = value if isinstance(value, list) else [value]
        out[name] = translate_all(values)
    return out
