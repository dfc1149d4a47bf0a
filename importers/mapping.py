"""Mapping files (TOML, in data/mappings/): from OSM tags or CSV columns to entry fields.

An OSM mapping lists rules `when` → kind + tags; a CSV mapping names the column of
each field, the key columns, the position columns and the tag rules. Both may
declare `[[tags]]`, created when missing (existing tags are left as they are).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app import entry_fields
from app.config import PROJECT_ROOT
from app.models.vocab import ENTRY_KINDS
from app.services.errors import WriteValidationError
from app.services.tags import tag_values

from .geo import Territory, default_territory

MAPPINGS_DIR = PROJECT_ROOT / "data" / "mappings"
DEFAULT_OSM_MAPPING = MAPPINGS_DIR / "osm.toml"
# The fields a CSV mapping may fill (app/entry_fields.py).
CSV_FIELDS = entry_fields.writable_by("importer")


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the file and the key."""


class Condition:
    """One `key = value` of a rule: "*" any value, "~regex" a regex, a list any of them."""

    def __init__(self, key: str, spec: Any, where: str) -> None:
        self.key = key
        values = spec if isinstance(spec, list) else [spec]
        self.any_value = False
        self.exact: set[str] = set()
        self.patterns: list[re.Pattern[str]] = []
        for value in values:
            if not isinstance(value, str):
                raise MappingError(f"{where}: {key} must be text, got {value!r}")
            if value == "*":
                self.any_value = True
            elif value.startswith("~"):
                try:
                    self.patterns.append(re.compile(value[1:], re.IGNORECASE))
                except re.error as exc:
                    raise MappingError(f"{where}: bad regex for {key}: {exc}") from None
            else:
                self.exact.add(value)

    def matches(self, tags: MappingABC[str, str]) -> bool:
        value = tags.get(self.key)
        if value is None:
            return False
        return (self.any_value or value in self.exact
                or any(p.search(value) for p in self.patterns))


@dataclass
class Rule:
    conditions: list[Condition]
    kind: str | None
    tags: list[str]
    # The name of an object that has none (an unnamed public bookcase).
    default_name: str | None = None

    def matches(self, tags: MappingABC[str, str]) -> bool:
        return all(c.matches(tags) for c in self.conditions)


@dataclass
class BaseMapping:
    path: Path
    origin: str
    author: str
    licence: str | None
    territory: Territory | None
    tags: list[dict[str, str]] = field(default_factory=list)
    # Set for a run (importers.placing): import objects outside the territory too; the
    # communes index; the outcomes of `--geocode` by external id.
    anywhere: bool = False
    communes: Any = None
    geocoded: dict[str, Any] = field(default_factory=dict)


@dataclass
class OsmMapping(BaseMapping):
    rules: list[Rule] = field(default_factory=list)
    extra: list[Rule] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Each rule under its most selective key (an exact value rather than "*"), so
        # that an object is tested only against rules whose key it has.
        self._anchors: dict[str, list[tuple[int, Rule]]] = {}
        for index, rule in enumerate(self.rules):
            anchor = min(rule.conditions, key=lambda c: (c.any_value, bool(c.patterns)))
            self._anchors.setdefault(anchor.key, []).append((index, rule))

    def keys(self) -> list[str]:
        """Every OSM key a rule looks at: the C++ pre-filter lets only these through."""
        return sorted({c.key for rule in self.rules for c in rule.conditions})

    def classify(self, tags: MappingABC[str, str]) -> tuple[Rule, list[str]] | None:
        """The first rule that matches, and its tags plus those of every extra rule.

        `tags` is a dict or anything with `.get(key)`, such as osmium's TagList.
        """
        best: tuple[int, Rule] | None = None
        for key, rules in self._anchors.items():
            if tags.get(key) is None:
                continue
            for index, rule in rules:
                if best is not None and index > best[0]:
                    break
                if rule.matches(tags):
                    best = (index, rule)
                    break
        if best is None:
            return None
        rule = best[1]
        slugs = set(rule.tags)
        for extra in self.extra:
            if extra.matches(tags):
                slugs.update(extra.tags)
        return rule, sorted(slugs)


@dataclass
class TagRule:
    column: str
    separator: str | None
    values: dict[str, list[str]]


@dataclass
class CsvMapping(BaseMapping):
    name: str = ""
    key: list[str] = field(default_factory=list)
    kind: str | None = None
    kind_column: str | None = None
    kind_values: dict[str, str] = field(default_factory=dict)
    constant_tags: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    separators: dict[str, str] = field(default_factory=dict)
    position: dict[str, str] = field(default_factory=dict)
    tag_rules: list[TagRule] = field(default_factory=list)
    optional_columns: set[str] = field(default_factory=set)
    extra_columns: dict[str, str] = field(default_factory=dict)
    # A column of tag slugs, joined with one of `tags_separator`.
    tags_column: str | None = None
    tags_separator: str = "|;"

    def required_columns(self) -> list[str]:
        """Columns the header must have: every column the mapping names but optional ones."""
        named = [*self.key, *self.columns.values(), *self.position.values(),
                 *self.extra_columns.values(), *(r.column for r in self.tag_rules)]
        if self.kind_column:
            named.append(self.kind_column)
        if self.tags_column:
            named.append(self.tags_column)
        named = [c for c in named if c not in self.optional_columns
                 and c != self.position.get("crs")]
        return list(dict.fromkeys(named))


def _read(path: Path) -> dict[str, Any]:
    try:
        with Path(path).open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise MappingError(f"{path}: no such mapping file") from None
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path}: {exc}") from None


def _common(path: Path, data: dict[str, Any], default_origin: str) -> dict[str, Any]:
    territory = data.get("territory")
    try:
        parsed = (Territory.parse(territory) if territory not in (None, "none")
                  else (default_territory() if territory is None else None))
    except ValueError as exc:
        raise MappingError(f"{path}: territory: {exc}") from None
    tags = data.get("tags", [])
    for index, tag in enumerate(tags):
        missing = {"slug", "label_fr", "label_en"} - set(tag)
        if missing:
            raise MappingError(f"{path}: tags[{index}] lacks {', '.join(sorted(missing))}")
        try:
            tag_values(tag)
        except WriteValidationError as exc:
            raise MappingError(f"{path}: tags[{index}]: {exc}") from None
    origin = data.get("origin", default_origin)
    return {"path": Path(path), "origin": origin,
            "author": data.get("author", f"import {origin}"),
            "licence": data.get("licence"), "territory": parsed, "tags": tags}


def _rules(path: Path, specs: list[dict[str, Any]], section: str) -> list[Rule]:
    rules = []
    for index, spec in enumerate(specs):
        where = f"{path}: {section}[{index}]"
        when = spec.get("when")
        if not isinstance(when, dict) or not when:
            raise MappingError(f"{where}: `when` must be a table of tag conditions")
        kind = spec.get("kind")
        if kind is not None and kind not in ENTRY_KINDS:
            raise MappingError(f"{where}: kind must be one of {ENTRY_KINDS}")
        rules.append(Rule([Condition(k, v, where) for k, v in when.items()], kind,
                          list(spec.get("tags", [])), spec.get("default_name")))
    return rules


def load_osm_mapping(path: Path | str = DEFAULT_OSM_MAPPING) -> OsmMapping:
    path = Path(path)
    data = _read(path)
    rules = _rules(path, data.get("rules", []), "rules")
    if not rules:
        raise MappingError(f"{path}: no [[rules]]")
    return OsmMapping(**_common(path, data, "osm"), rules=rules,
                      extra=_rules(path, data.get("extra", []), "extra"))


def load_csv_mapping(path: Path | str) -> CsvMapping:
    path = Path(path)
    data = _read(path)
    name = data.get("name") or path.stem
    common = _common(path, {"origin": f"csv:{name}", **data}, f"csv:{name}")
    columns = dict(data.get("columns", {}))
    unknown = sorted(set(columns) - set(CSV_FIELDS))
    if unknown:
        raise MappingError(f"{path}: [columns] has no field {', '.join(unknown)}; "
                           f"fields are {', '.join(CSV_FIELDS)}")
    if "name" not in columns:
        raise MappingError(f"{path}: [columns] must give the column of `name`")
    key = data.get("key")
    key = [key] if isinstance(key, str) else list(key or [])
    if not key:
        raise MappingError(f"{path}: `key` must name the column(s) that identify a row")
    kind, kind_column = data.get("kind"), data.get("kind_column")
    if (kind is None) == (kind_column is None):
        raise MappingError(f"{path}: give either `kind` or `kind_column`")
    kind_values = dict(data.get("kind_values", {}))
    for value in [kind, *kind_values.values()]:
        if value is not None and value not in ENTRY_KINDS:
            raise MappingError(f"{path}: kind {value!r} is not one of {ENTRY_KINDS}")
    position = dict(data.get("position", {}))
    shapes = [{"lat", "lon"}, {"wkt"}, {"x", "y"}]
    if position and not any(s <= set(position) for s in shapes):
        raise MappingError(f"{path}: [position] needs lat + lon, wkt, or x + y (+ crs)")
    tag_rules = [TagRule(r["column"], r.get("separator"),
                         {k: (v if isinstance(v, list) else [v])
                          for k, v in r.get("values", {}).items()})
                 for r in data.get("tag_rules", [])]
    return CsvMapping(**common, name=name, key=key, kind=kind, kind_column=kind_column,
                      kind_values=kind_values, constant_tags=list(data.get("entry_tags", [])),
                      columns=columns, separators=dict(data.get("separators", {})),
                      position=position, tag_rules=tag_rules,
                      optional_columns=set(data.get("optional_columns", [])),
                      extra_columns=dict(data.get("extra_columns", {})),
                      tags_column=data.get("tags_column"),
                      tags_separator=data.get("tags_separator", "|;"))


# -- value clean-up shared by the readers ------------------------------------------

def first_value(value: str | None, separator: str = ";") -> str | None:
    """The first of "a;b;c" (OSM's list separator), stripped; blank is None."""
    if value is None:
        return None
    first = value.split(separator)[0].strip() if separator else value.strip()
    return first or None


def normalise_website(value: str | None) -> str | None:
    """A URL with its scheme: OSM and spreadsheets often write "www.example.org"."""
    if not value:
        return None
    value = value.strip()
    if not re.match(r"^[a-z][a-z0-9+.-]*://", value, re.IGNORECASE):
        value = "https://" + value.lstrip("/")
    return value
