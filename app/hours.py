"""Opening hours in OpenStreetMap's syntax: checked, read aloud, and given to other formats.

The check and the evaluation ("open now") are those of `opening-hours-py`, the Python
binding of the maintained Rust parser of the OSM syntax. The parser gives no syntax
tree, so the rest reads its canonical text (`str(OpeningHours(...))`: `off` becomes
`closed`, spaces are fixed) with a small grammar of the common part of the syntax:
weekdays and their ranges, public and school holidays, times, `closed`, a comment,
`24/7`. A rule outside it is shown as written, and the formats that need a weekly
table (JSON-LD `openingHoursSpecification`, GoGoCarto's `openHours`) get none: one
parsed form (`Hours`, `week`) feeds them all.

The sentences for citizens are built here, per language, rather than from message
catalogues: the French phrase needs its own grammar ("fermé le dimanche", "du lundi
au vendredi"), which a translated template cannot give.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from opening_hours import OpeningHours, ParserError, State

from .services.errors import ErrorMessage, coded

# The places of this atlas are in France; "open now" is decided at their clock.
TIMEZONE = ZoneInfo("Europe/Paris")
DEFAULT_COUNTRY = "FR"
DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
HOLIDAYS = ("PH", "SH")
SCHEMA_DAYS = {"Mo": "Monday", "Tu": "Tuesday", "We": "Wednesday", "Th": "Thursday",
               "Fr": "Friday", "Sa": "Saturday", "Su": "Sunday"}

_DAY = r"(?:Mo|Tu|We|Th|Fr|Sa|Su)"
_ITEM = rf"(?:{_DAY}(?:-{_DAY})?|PH|SH)"
_TIME = r"(?:[01]\d|2[0-4]):[0-5]\d"
_SPAN = rf"{_TIME}-{_TIME}"
RULE_RE = re.compile(
    rf"^(?:(?P<days>{_ITEM}(?:,{_ITEM})*)(?:\s+|$))?"
    rf"(?:(?P<times>{_SPAN}(?:,{_SPAN})*)(?:\s+|$))?"
    r"(?:(?P<state>open|closed|off)(?:\s+|$))?"
    r'(?:"(?P<comment>[^"]*)")?$')


class HoursError(ValueError):
    """A value the parser refuses; `message` is its coded explanation."""

    def __init__(self, message: ErrorMessage) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Rule:
    """One rule of the common part of the syntax.

    `days`: the day selector's items as written ("Mo-Fr", "We", "PH"); empty for every
    day. `times`: (start, end) pairs "HH:MM"; empty for the whole day.
    """

    days: tuple[str, ...]
    times: tuple[tuple[str, str], ...]
    closed: bool
    comment: str | None = None


@dataclass(frozen=True)
class Hours:
    """A valid value: its canonical text and its rules (a rule outside the common part
    of the syntax is kept as its text)."""

    text: str
    rules: tuple[Rule | str, ...]

    @property
    def simple(self) -> bool:
        return all(isinstance(r, Rule) for r in self.rules)


def _parser(value: str, country: str | None = None) -> OpeningHours:
    try:
        return OpeningHours(value, timezone=TIMEZONE, country=country,
                            auto_country=False, auto_timezone=False)
    except ParserError as exc:
        raise HoursError(_parser_message(str(exc))) from None
    except Exception as exc:
        raise HoursError(coded("opening_hours_syntax", "Opening hours: not valid "
                               "OpenStreetMap syntax ({detail}).",
                               detail=str(exc).splitlines()[0])) from None


def _parser_message(text: str) -> ErrorMessage:
    """The parser's message on one line: where it stopped and what it expected."""
    where = re.search(r"-->\s*\d+:(\d+)", text)
    expected = re.search(r"=\s*(.+)$", text.strip())
    detail = expected.group(1).strip() if expected else text.splitlines()[0]
    return coded("opening_hours_syntax", "Opening hours: not valid OpenStreetMap syntax "
                 "at character {column}: {detail}.",
                 column=int(where.group(1)) if where else 1, detail=detail)


@lru_cache(maxsize=8192)
def _read(value: str) -> Hours | ErrorMessage:
    """A value parsed once (about 10,000 a second): exports of many entries meet the
    same few values again and again."""
    try:
        canonical = str(_parser(value))
    except HoursError as exc:
        return exc.message
    rules: list[Rule | str] = []
    for part in (p.strip() for p in canonical.split(";")):
        if part:
            rules.append(_rule(part) or part)
    return Hours(canonical, tuple(rules))


def check(value: str) -> None:
    """Raise HoursError with the parser's message when `value` is not valid."""
    parse(value)


def problem(value: str | None) -> ErrorMessage | None:
    """The parser's message about `value`, or None when it is valid (or empty)."""
    if not value:
        return None
    read = _read(value)
    return read if isinstance(read, ErrorMessage) else None


def parse(value: str) -> Hours:
    """The rules of a valid value (HoursError otherwise)."""
    read = _read(value)
    if isinstance(read, ErrorMessage):
        raise HoursError(read)
    return read


def _rule(text: str) -> Rule | None:
    if text == "24/7":
        return Rule((), (), closed=False)
    if text.startswith("24/7 "):
        text = text[5:]
    match = RULE_RE.match(text)
    if match is None or not any(match.groupdict().values()):
        return None
    days = tuple(match["days"].split(",")) if match["days"] else ()
    times = tuple(tuple(span.split("-")) for span in match["times"].split(",")) \
        if match["times"] else ()
    closed = match["state"] in ("closed", "off")
    if closed and times:
        return None  # "10:00-12:00 closed": a closed interval inside other rules
    return Rule(days, times, closed, match["comment"])  # type: ignore[arg-type]


def try_parse(value: str | None) -> Hours | None:
    """`parse`, or None for an empty or invalid value (imports keep invalid text)."""
    if not value:
        return None
    try:
        return parse(value)
    except HoursError:
        return None


# -- the weekly table ---------------------------------------------------------------------

def week(hours: Hours | None) -> dict[str, tuple[tuple[str, str], ...]] | None:
    """The regular week (day → time spans) when every rule fits in one, else None.

    Holidays that close (`PH off`) are exceptions a weekly table cannot hold: left out.
    Holidays with hours of their own, months, weeks, and rules outside the common
    syntax make the whole value too rich for a table.
    """
    if hours is None or not hours.simple:
        return None
    table: dict[str, tuple[tuple[str, str], ...]] = {}
    for rule in hours.rules:
        assert isinstance(rule, Rule)
        if any(d in HOLIDAYS for d in rule.days):
            if not rule.closed:
                return None
            days = [d for d in _expand(rule.days) if d not in HOLIDAYS]
        else:
            days = _expand(rule.days) if rule.days else list(DAYS)
        for day in days:
            if rule.closed:
                table.pop(day, None)
            else:
                table[day] = rule.times or (("00:00", "24:00"),)
    return {day: table[day] for day in DAYS if day in table}


def _expand(items: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item in HOLIDAYS:
            out.append(item)
            continue
        start, _, end = item.partition("-")
        i, j = DAYS.index(start), DAYS.index(end or start)
        out += [DAYS[k % 7] for k in range(i, j + 1 if j >= i else j + 8)]
    return out


def opening_hours_specification(value: str | None) -> list[dict[str, object]] | None:
    """schema.org `openingHoursSpecification` of a value whose week fits a table."""
    table = week(try_parse(value))
    if not table:
        return None
    spans: dict[tuple[str, str], list[str]] = {}
    for day, times in table.items():
        for span in times:
            spans.setdefault(span, []).append(day)
    return [{"@type": "OpeningHoursSpecification",
             "dayOfWeek": [f"https://schema.org/{SCHEMA_DAYS[d]}" for d in days],
             "opens": start, "closes": "23:59" if end == "24:00" else end}
            for (start, end), days in sorted(spans.items(),
                                             key=lambda kv: (DAYS.index(kv[1][0]), kv[0]))]


# -- plain words ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Words:
    days: dict[str, str]
    days_on: dict[str, str]  # "le dimanche", "on Sundays"
    holidays: dict[str, str]
    range: str  # "du {start} au {end}"
    and_: str
    spans: str  # "de {start} à {end}"
    every_day: str
    all_day: str
    always: str
    closed: str
    closed_on: str
    separator: str
    comment: str


def _fr_time(t: str) -> str:
    hour, minute = t.split(":")
    return f"{int(hour)} h" + ("" if minute == "00" else f" {minute}")


def _en_time(t: str) -> str:
    hour, minute = t.split(":")
    return f"{int(hour)}:{minute}"


WORDS = {
    "fr": Words(
        days=dict(zip(DAYS, ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi",
                             "dimanche"), strict=True)),
        days_on={d: f"le {n}" for d, n in zip(DAYS, ("lundi", "mardi", "mercredi", "jeudi",
                                                      "vendredi", "samedi", "dimanche"),
                                               strict=True)},
        holidays={"PH": "les jours fériés", "SH": "pendant les vacances scolaires"},
        range="du {start} au {end}", and_=" et ", spans="de {start} à {end}",
        every_day="tous les jours", all_day="24 h sur 24", always="ouvert 24 h sur 24, "
        "7 jours sur 7", closed="fermé", closed_on="fermé {days}", separator=" ; ",
        comment="« {text} »"),
    "en": Words(
        days=dict(zip(DAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                             "Saturday", "Sunday"), strict=True)),
        days_on={d: f"on {n}s" for d, n in zip(DAYS, ("Monday", "Tuesday", "Wednesday",
                                                       "Thursday", "Friday", "Saturday",
                                                       "Sunday"), strict=True)},
        holidays={"PH": "public holidays", "SH": "during school holidays"},
        range="{start} to {end}", and_=" and ", spans="from {start} to {end}",
        every_day="every day", all_day="all day", always="open 24/7", closed="closed",
        closed_on="closed {days}", separator="; ", comment="“{text}”"),
}
_TIMES = {"fr": _fr_time, "en": _en_time}


def _join(items: list[str], words: Words) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + words.and_ + items[-1]


def _days(items: tuple[str, ...], words: Words, closed: bool) -> str:
    out = []
    for item in items:
        if item in HOLIDAYS:
            phrase = words.holidays[item]
            if closed and words is WORDS["en"] and item == "PH":
                phrase = "on " + phrase
            out.append(phrase)
        elif "-" in item:
            start, end = item.split("-")
            out.append(words.range.format(start=words.days[start], end=words.days[end]))
        else:
            out.append(words.days_on[item] if closed else words.days[item])
    return _join(out, words)


def describe_rule(rule: Rule | str, locale: str) -> str:
    """One rule in plain words ("mercredi de 14 h à 19 h"); a rule outside the common
    syntax as written."""
    if isinstance(rule, str):
        return rule
    words = WORDS.get(locale, WORDS["en"])
    time = _TIMES.get(locale, _en_time)
    if rule.closed:
        text = (words.closed_on.format(days=_days(rule.days, words, True)) if rule.days
                else words.closed)
    elif not rule.days and not rule.times:
        text = words.always
    else:
        days = _days(rule.days, words, False) if rule.days else words.every_day
        if rule.times:
            spans = _join([words.spans.format(start=time(a), end=time(b))
                           for a, b in rule.times], words)
            text = f"{days} {spans}"
        else:
            text = f"{days}, {words.all_day}"
    if rule.comment:
        text += " (" + words.comment.format(text=rule.comment) + ")"
    return text


def describe(value: str | None, locale: str) -> str | None:
    """The whole value in plain words, rules joined as the language does ("mercredi de
    14 h à 19 h ; fermé les jours fériés"); None for an empty or invalid value."""
    hours = try_parse(value)
    if hours is None:
        return None
    words = WORDS.get(locale, WORDS["en"])
    return words.separator.join(describe_rule(r, locale) for r in hours.rules)


# -- open now ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Now:
    state: Literal["open", "closed", "unknown"]
    until: datetime | None  # the next change, at the place's clock


def now_state(value: str | None, country: str | None = None,
              at: datetime | None = None) -> Now | None:
    """Whether the place is open at `at` (now by default, Europe/Paris), with public
    holidays of its country; None for an empty or invalid value."""
    if not value or problem(value) is not None:
        return None
    at = (at or datetime.now(TIMEZONE)).astimezone(TIMEZONE)
    try:
        parser = _parser(value, (country or DEFAULT_COUNTRY).upper())
    except HoursError:  # a country without a holiday calendar: no public holidays
        parser = _parser(value)
    state, _comment = parser.state(at)
    name = {State.OPEN: "open", State.CLOSED: "closed"}.get(state, "unknown")
    change = parser.next_change(at)
    return Now(name, change.astimezone(TIMEZONE) if change else None)  # type: ignore[arg-type]
