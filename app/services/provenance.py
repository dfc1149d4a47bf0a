"""Who gave each field of an entry: a source, or an editor, and since when.

Every write through `save_entry` records the holder of the fields it changed
(`on_write`): the write's source when it has one, else an editor (a person's form or
API write, a revert, an accepted proposal…), whose value no source overwrites again.
An entry fed by several sources is settled (`settle`) by app.services.threeway's
`aggregate`: each field goes to the source of highest priority (the registry's,
app.models.RegisteredSource) that gives a value, unless an editor holds it.

Fields are the content fields of app/entry_fields.py that importers may write, plus
`position` (lon and lat together).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select, text

from .. import entry_fields
from ..extensions import db
from ..models import Entry, EntryFieldSource, RegisteredSource, Source
from .revisions import Author
from .threeway import EDITOR, Claim, aggregate

COORD_DIGITS = 7
PLAIN = tuple(f.name for f in entry_fields.FIELDS if f.content and "importer" in f.writers)
FIELDS = (*PLAIN, "position")

_UPSERT = text("""
INSERT INTO entry_field_sources (entry_id, field, origin, user_id, value_hash, at)
SELECT CAST(:entry AS uuid), f, :origin, :user_id, h, :at
FROM unnest(CAST(:fields AS text[]), CAST(:hashes AS text[])) AS v(f, h)
ON CONFLICT (entry_id, field) DO UPDATE
SET origin = EXCLUDED.origin, user_id = EXCLUDED.user_id,
    value_hash = EXCLUDED.value_hash, at = EXCLUDED.at
""")
_DROP = text("DELETE FROM entry_field_sources "
             "WHERE entry_id = CAST(:entry AS uuid) AND field = ANY(CAST(:fields AS text[]))")


def value_hash(value: Any) -> str:
    """A short fingerprint of a field's value (what the holder gave)."""
    return hashlib.md5(orjson.dumps(value, option=orjson.OPT_SORT_KEYS),
                       usedforsecurity=False).hexdigest()


def field_values(state: Mapping[str, Any]) -> dict[str, Any]:
    """The provenance fields of a snapshot (or a new entry's state)."""
    out = {name: state.get(name) for name in PLAIN}
    lon, lat = state.get("lon"), state.get("lat")
    out["position"] = None if lon is None else [round(lon, COORD_DIGITS),
                                                  round(lat, COORD_DIGITS)]
    return out


def claim_values(mapped: Mapping[str, Any]) -> dict[str, Any]:
    """What a source said (its mapped values, as an import keeps them), by field."""
    out = {name: mapped[name] for name in PLAIN if name in mapped}
    if "lon" in mapped or "lat" in mapped:
        lon, lat = mapped.get("lon"), mapped.get("lat")
        out["position"] = (None if lon is None or lat is None else
                           [round(float(lon), COORD_DIGITS), round(float(lat), COORD_DIGITS)])
    return out


def as_input(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Changes by provenance field, as write input (`position` as lon and lat)."""
    out = {k: v for k, v in changes.items() if k != "position"}
    if "position" in changes:
        position = changes["position"]
        out["lon"], out["lat"] = (None, None) if position is None else position
    return out


# -- recording --------------------------------------------------------------------------

def record(entry_id: uuid.UUID | str, values: Mapping[str, Any], origin: str | None, *,
           user_id: int | None = None, at: datetime | None = None) -> None:
    """`origin` (None: an editor) holds these fields, with these values, from `at`."""
    if not values:
        return
    db.session.execute(_UPSERT, {
        "entry": str(entry_id), "origin": origin, "user_id": user_id,
        "at": at or datetime.now(UTC), "fields": list(values),
        "hashes": [value_hash(v) for v in values.values()]})


def on_write(entry: Entry, before: Mapping[str, Any] | None, after: Mapping[str, Any], *,
             origin: str | None, user_id: int | None,
             attribution: Mapping[str, str | None] | None = None) -> None:
    """Record who holds what a write changed: `attribution`'s holder for the fields it
    names (None: nobody, the row goes), else `origin` (None: an editor)."""
    held, dropped = write_holders(before, after, origin=origin, user_id=user_id,
                                  attribution=attribution)
    record_many([(entry.id, *row) for row in held])
    if dropped:
        db.session.execute(_DROP, {"entry": str(entry.id), "fields": dropped})


# (field, origin, user_id, value hash): a holder row of one entry.
HolderRow = tuple[str, str | None, int | None, str]


def write_holders(before: Mapping[str, Any] | None, after: Mapping[str, Any], *,
                  origin: str | None, user_id: int | None,
                  attribution: Mapping[str, str | None] | None = None
                  ) -> tuple[list[HolderRow], list[str]]:
    """What `on_write` records for one write, without writing it (a batch of writes
    records all of theirs in one statement): the holder rows, and the fields whose row
    goes."""
    old = field_values(before) if before is not None else {}
    new = field_values(after)
    changed = {k: v for k, v in new.items()
               if (k in old and old[k] != v) or (k not in old and v not in (None, ""))}
    held: list[HolderRow] = []
    dropped = []
    for name in [*changed, *(k for k in attribution or () if k not in changed)]:
        holder = attribution[name] if attribution and name in attribution else origin
        if attribution and name in attribution and holder is None:
            dropped.append(name)
            continue
        held.append((name, holder, None if holder else user_id, value_hash(new[name])))
    return held, dropped


_UPSERT_MANY = text("""
INSERT INTO entry_field_sources (entry_id, field, origin, user_id, value_hash, at)
SELECT e, f, o, u, h, :at
FROM unnest(CAST(:entries AS uuid[]), CAST(:fields AS text[]), CAST(:origins AS text[]),
            CAST(:users AS int[]), CAST(:hashes AS text[])) AS v(e, f, o, u, h)
ON CONFLICT (entry_id, field) DO UPDATE
SET origin = EXCLUDED.origin, user_id = EXCLUDED.user_id,
    value_hash = EXCLUDED.value_hash, at = EXCLUDED.at
""")
_DROP_MANY = text("""
DELETE FROM entry_field_sources s
USING unnest(CAST(:entries AS uuid[]), CAST(:fields AS text[])) AS v(e, f)
WHERE s.entry_id = v.e AND s.field = v.f
""")


def record_many(rows: Iterable[tuple[uuid.UUID | str, str, str | None, int | None, str]],
                at: datetime | None = None) -> None:
    """Holder rows (entry id, field, origin, user id, value hash) of many entries in one
    statement."""
    rows = list(rows)
    if not rows:
        return
    entries, fields, origins, users, hashes = (list(column) for column in zip(*rows,
                                                                              strict=True))
    db.session.execute(_UPSERT_MANY, {
        "entries": [str(e) for e in entries], "fields": fields, "origins": origins,
        "users": users, "hashes": hashes, "at": at or datetime.now(UTC)})


def drop_many(pairs: Iterable[tuple[uuid.UUID | str, str]]) -> None:
    """Forget who held these (entry id, field) pairs, in one statement."""
    pairs = list(pairs)
    if pairs:
        db.session.execute(_DROP_MANY, {"entries": [str(e) for e, _ in pairs],
                                        "fields": [f for _, f in pairs]})


def created_lines(entry_id: str, state: Mapping[str, Any], origin: str) -> list[str]:
    """COPY lines (entry_id, field, origin, value_hash) of a new entry's fields held by
    its source: create_entries writes them set-based."""
    from .copy import escape

    origin = escape(origin)
    return [f"{entry_id}\t{name}\t{origin}\t{value_hash(value)}"
            for name, value in field_values(state).items() if value not in (None, "")]


# -- reading ----------------------------------------------------------------------------

def holders(entry_id: uuid.UUID, values: Mapping[str, Any]) -> dict[str, str]:
    """field -> holder's origin, or EDITOR. A source holds a field only while the
    value is still the one it gave (`values`: the entry's now): a value changed by a
    write that recorded nothing reads as an editor's."""
    rows = db.session.execute(
        select(EntryFieldSource.field, EntryFieldSource.origin, EntryFieldSource.value_hash)
        .where(EntryFieldSource.entry_id == entry_id))
    return {f: (o if o is not None and h == value_hash(values.get(f)) else EDITOR)
            for f, o, h in rows}


def priorities() -> dict[str, int]:
    """origin -> the registry's priority (an origin not in the registry weighs 0)."""
    return dict(db.session.execute(select(RegisteredSource.origin,
                                          RegisteredSource.priority)).all())


def claims(sources: Iterable[Source], weights: Mapping[str, int], *,
           refreshing: tuple[str, str] | None = None,
           incoming: Mapping[str, Any] | None = None) -> list[Claim]:
    """Each source's claim: its mapped values (an import's), `incoming` for the one
    being refreshed (`refreshing` = origin, external id)."""
    out: dict[str, Claim] = {}
    for source in sorted(sources, key=lambda s: s.id or 0):
        if refreshing is not None and (source.origin, source.external_id) == refreshing:
            continue
        mapped = (source.attributes or {}).get("mapped")
        values = claim_values(mapped) if isinstance(mapped, dict) else None
        out.setdefault(source.origin, Claim(source.origin, weights.get(source.origin, 0),
                                            values))
    if refreshing is not None and incoming is not None:
        origin = refreshing[0]
        out[origin] = Claim(origin, weights.get(origin, 0), claim_values(incoming))
    return list(out.values())


@dataclass
class Settlement:
    changes: dict[str, Any]  # write input (lon/lat)
    conflicts: list[tuple[str, Any, Any]]
    attribution: dict[str, str | None]


def settle(entry: Entry, current: Mapping[str, Any], *,
           refreshing: tuple[str, str] | None = None,
           incoming: Mapping[str, Any] | None = None,
           last: Mapping[str, Any] | None = None,
           weights: Mapping[str, int] | None = None) -> Settlement:
    """What the entry's fields should become, given every source's claim and who holds
    each field; the changes are written by the caller through save_entry (with
    `attribution`)."""
    weights = priorities() if weights is None else weights
    values = field_values(current)
    outcome = aggregate(values,
                        claims(entry.sources, weights, refreshing=refreshing,
                               incoming=incoming),
                        holders(entry.id, values), FIELDS,
                        refreshing=refreshing[0] if refreshing else None,
                        last=claim_values(last) if last is not None else None)
    return Settlement(as_input(outcome.changes), outcome.conflicts, outcome.holders)


def resettle(origin: str, author: Author) -> int:
    """Settle again every entry `origin` feeds (its priority changed); returns how many
    entries changed."""
    from .entries import save_entry, snapshot

    weights = priorities()
    changed = 0
    for entry_id in db.session.scalars(select(Source.entry_id).where(
            Source.origin == origin).distinct()).all():
        entry = db.session.get(Entry, entry_id)
        if entry is None or entry.deleted_at is not None:
            continue
        settled = settle(entry, snapshot(entry), weights=weights)
        if not settled.changes and not settled.attribution:
            continue
        result = save_entry(entry, settled.changes, author=author,
                            expected_version=entry.version, partial=True, commit=False,
                            comment=f"Settled again: the priority of {origin} changed",
                            attribution=settled.attribution)
        changed += result.action == "updated"
    return changed


@dataclass(frozen=True)
class FieldProvenance:
    field: str
    label: str  # the field's label
    origin: str | None  # None: an editor
    source: str  # who, in words
    at: datetime


def provenance_of(entry: Entry) -> list[FieldProvenance]:
    """Each field's holder, in the registry's order of fields."""
    from flask_babel import gettext as _

    from ..origins import label as origin_label

    rows = {r.field: r for r in db.session.scalars(
        select(EntryFieldSource).where(EntryFieldSource.entry_id == entry.id))}
    labels = {**entry_fields.labels(), "position": None}
    named: dict[str | None, str] = {}
    out = []
    for name in FIELDS:
        row = rows.get(name)
        if row is None:
            continue
        label = labels.get(name) or _("Position")
        if row.origin not in named:  # one look-up per source, not per field
            named[row.origin] = origin_label(row.origin) if row.origin else _("an editor")
        who = named[row.origin]
        out.append(FieldProvenance(name, str(label), row.origin, str(who), row.at))
    return out
