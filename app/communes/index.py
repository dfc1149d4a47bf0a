"""The INSEE code of an address: postcode + commune name, never a guess.

Built once per process from the `communes` table (or from the package's records, for
the importers' reading process, which has no database) and kept until a new load.
A pair found for one commune only gives its code; several communes or none are
reported as such ("ambiguous", "unknown"), with the candidates, for a person to settle.
Arrondissements, delegated and associated communes give the code of the current
commune they belong to ("Lomme", 59160 → Lille, 59350).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import text

from .names import clean_postcode, departments_of, is_cedex, name_key

Status = Literal["found", "ambiguous", "unknown", "no_address"]


@dataclass(frozen=True)
class Match:
    """The outcome of one look-up; `code` only when `status` is "found"."""

    status: Status
    code: str | None = None
    candidates: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class CommuneRecord:
    code: str
    name: str
    kind: str
    parent_code: str | None
    department: str
    postcodes: tuple[str, ...]


def _keys(record: CommuneRecord, target: CommuneRecord) -> set[str]:
    """The names a record is known by. A part of a commune (associated, delegated)
    also goes by the commune's name joined to its own: "Lille-Hellemmes" and
    "Hellemmes" for Hellemmes-Lille, "Lille-Lomme" for Lomme."""
    key = name_key(record.name)
    if record is target:
        return {key}
    parent = name_key(target.name)
    own = " ".join(w for w in key.split() if w not in parent.split()) or key
    return {key, own, f"{parent} {own}", f"{own} {parent}"}


@dataclass
class CommuneIndex:
    """Look-up tables from (postcode, name), (department, name) and name to codes."""

    load_id: int | None = None
    names: dict[str, str] = field(default_factory=dict)
    departments: dict[str, str] = field(default_factory=dict)
    by_postcode: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    by_department: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    by_name: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, records: Iterable[CommuneRecord], load_id: int | None = None
              ) -> CommuneIndex:
        records = list(records)
        current = {r.code: r for r in records if r.parent_code is None}
        by_postcode: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        by_department: dict[tuple[str, str], set[str]] = defaultdict(set)
        by_name: dict[str, set[str]] = defaultdict(set)
        for record in records:
            target = current.get(record.parent_code or record.code)
            if target is None:
                continue  # a part of a commune that is not in the list
            for key in _keys(record, target):
                for postcode in record.postcodes or target.postcodes:
                    by_postcode[postcode][key].add(target.code)
                by_department[(target.department, key)].add(target.code)
                by_name[key].add(target.code)
        return cls(load_id, {c: r.name for c, r in current.items()},
                   {c: r.department for c, r in current.items()},
                   {p: dict(v) for p, v in by_postcode.items()}, dict(by_department),
                   dict(by_name))

    def __len__(self) -> int:
        return len(self.names)

    def label(self, code: str) -> str:
        return f"{self.names.get(code, '?')} ({code})"

    def lookup(self, postcode: str | None, city: str | None,
               departments: Iterable[str] | None = None) -> Match:
        """The code of (postcode, city). Without a postcode the name must be unique in
        `departments` (the territory's, when it lists them), else in France."""
        raw_postcode = (postcode or "").strip()
        code5 = clean_postcode(raw_postcode)
        key = name_key(city or "")
        if not key and not raw_postcode:
            return Match("no_address", reason="no postcode and no commune")
        if raw_postcode and code5 is None:
            return Match("unknown", reason=f"the postcode {raw_postcode!r} is not five digits")
        if code5 is not None:
            in_postcode = self.by_postcode.get(code5)
            if in_postcode is not None and not key:
                codes = set().union(*in_postcode.values())
                return self._one(codes, f"the postcode {code5}")
            if in_postcode is not None and key in in_postcode:
                return self._one(in_postcode[key], f"{city!r} with the postcode {code5}")
            if in_postcode is None or is_cedex(city or ""):
                # A CEDEX code (a firm's or an office's own) names no commune: the name
                # must then be unique in the postcode's department.
                if not key:
                    return Match("unknown", reason=f"the postcode {code5} is no commune's")
                codes = set().union(*(self.by_department.get((d, key), set())
                                      for d in departments_of(code5)))
                if codes:
                    return self._one(codes, f"{city!r} in the department of {code5}")
                return Match("unknown", reason=f"no commune named {city!r} in the "
                             f"department of {code5}")
            return Match("unknown", reason=f"no commune named {city!r} has the postcode "
                         f"{code5}")
        codes = self.by_name.get(key, set())
        wanted = set(departments or ())
        if wanted:
            codes = {c for c in codes if self.departments.get(c) in wanted}
        if not codes:
            return Match("unknown", reason=f"no commune named {city!r}"
                         + (" in the territory's departments" if wanted else ""))
        return self._one(codes, f"{city!r} without a postcode")

    def _one(self, codes: set[str], what: str) -> Match:
        ordered = tuple(sorted(codes))
        if len(ordered) == 1:
            return Match("found", ordered[0], ordered)
        return Match("ambiguous", None, ordered, f"{what} may be "
                     + ", ".join(self.label(c) for c in ordered))


# Per database (tests use several in one process).
_cached: dict[str, CommuneIndex] = {}

LATEST_SQL = text("SELECT max(id) FROM commune_loads")
ROWS_SQL = text("SELECT code, name, kind, parent_code, department, postcodes "
                "FROM communes")


def records_from_rows(rows: Iterable[tuple]) -> list[CommuneRecord]:
    return [CommuneRecord(code, name, kind, parent, department, tuple(postcodes or ()))
            for code, name, kind, parent, department, postcodes in rows]


def commune_index() -> CommuneIndex:
    """The index of the communes table, rebuilt when a new list was loaded (one small
    query tells). Empty when no list was ever loaded."""
    from ..extensions import db

    url = str(db.engine.url)
    load_id = db.session.execute(LATEST_SQL).scalar()
    cached = _cached.get(url)
    if cached is not None and cached.load_id == load_id:
        return cached
    index = (CommuneIndex() if load_id is None else
             CommuneIndex.build(records_from_rows(db.session.execute(ROWS_SQL)), load_id))
    _cached[url] = index
    return index


def forget_index() -> None:
    """Drop the process's indexes: the next look-up reads the table again (after a load)."""
    _cached.clear()
