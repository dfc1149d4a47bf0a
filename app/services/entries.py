"""The one write path for entries: forms, the API, importers and the demo loader all use it.

Every write is validated by `EntryInputSchema`, compared with what is stored (a
write that changes nothing writes nothing), checked against the version the
writer started from, stored with its revision and, when given, its source.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Literal

import orjson
import psycopg2
from geoalchemy2.shape import from_shape
from marshmallow import ValidationError
from shapely.geometry import Point
from slugify import slugify
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from .. import entry_fields
from ..communes.fill import fill_insee_code
from ..extensions import db
from ..models import Entry, Relation, Source, Tag
from ..models.vocab import LOCATED_KINDS
from ..schemas import EntryInputSchema
from ..schemas.entry import CopiedEntryInputSchema
from ..schemas.fast_load import FastLoader
from . import provenance
from .copy import copy_line, copy_lines, escape
from .errors import ConflictError, NotFoundError, WriteValidationError, coded
from .guard import guarded_write, set_tombstone
from .revisions import Author, note, record_revision, revision_at

# Every plain field (app/entry_fields.py), in the registry's order.
ENTRY_FIELDS = entry_fields.names()
# What a snapshot holds besides ENTRY_FIELDS; lon/lat rounded to 1e-7° (about 1 cm).
CONTENT_KEYS = (*ENTRY_FIELDS, "lon", "lat", "tags", "relations")
COORD_DIGITS = 7

# Database constraints that can still refuse a write validated here (races), by field.
CONSTRAINT_FIELDS = {
    "uq_entries_slug": ("slug", coded("slug_taken",
                                      "This slug is already used by another entry.")),
    "ck_entries_lonlat_range": ("lat", coded("position_range", "The position is outside "
                                                              "-180..180, -90..90.")),
}

SLUG_TAKEN = coded("slug_taken", "This slug is already used by another entry.")

Action = Literal["created", "updated", "unchanged"]

# The ENTRY_FIELDS of a state, as a tuple (in C: create_entries calls it per row).
_entry_values = itemgetter(*ENTRY_FIELDS)

# Building a schema deep-copies its fields (more than a load costs): one is kept;
# a schema holds no state between loads (`partial` is an argument of load()).
_SCHEMA = EntryInputSchema()
# Programs copying data from elsewhere (imports, sync, restores, reverts) keep what people's
# input rules would refuse (app/entry_fields.py `strict_check`): `strict=False` below.
_COPIED_SCHEMA = CopiedEntryInputSchema()
# Each through its quick load (app/schemas/fast_load.py): the schema's answers, about
# twice as fast for input it accepts (a mirror's 100,000 entries); by `strict`.
_LOADERS = {True: FastLoader(_SCHEMA), False: FastLoader(_COPIED_SCHEMA)}

# Which of many slugs are taken: one array parameter (an IN list of a thousand bound
# values costs more to build and to parse).
_TAKEN_SLUGS = text("SELECT slug FROM entries WHERE slug = ANY(CAST(:slugs AS text[]))")

# Slugs "<base>-<anything>" for many bases at once; the pattern operators use the
# text_pattern_ops index on slug whatever the database's collation.
_SUFFIXED_SLUGS = text(
    "SELECT s.slug FROM unnest(CAST(:bases AS text[])) AS b(base) CROSS JOIN LATERAL "
    "(SELECT e.slug FROM entries e "
    " WHERE e.slug ~>=~ (b.base || '-') AND e.slug ~<~ (b.base || '.')) AS s")


@dataclass(frozen=True)
class SourceRef:
    """Where a write comes from: `osm` + `node/123`, `csv:amap` + a row key, `demo` + a slug."""

    origin: str
    external_id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    licence: str | None = None


@dataclass(frozen=True)
class WriteResult:
    entry: Entry
    action: Action
    # The sheet written, for evaluation writes.
    evaluation: Any = None


# -- reading --------------------------------------------------------------------

def get_entry(ref: str | uuid.UUID, *, include_deleted: bool = False) -> Entry:
    """An entry by UUID or slug; NotFoundError otherwise."""
    entry = find_entry(ref)
    if entry is None or (entry.deleted_at is not None and not include_deleted):
        raise NotFoundError(f"No entry {ref!s}")
    return entry


def find_entry(ref: str | uuid.UUID) -> Entry | None:
    """By UUID (its own, or another id of it: app/services/links.py) or by slug."""
    from .links import as_uuid, local_entry

    if as_uuid(ref) is not None:
        return local_entry(ref)
    return db.session.scalar(select(Entry).where(Entry.slug == ref))


def find_by_source(origin: str, external_id: str) -> Entry | None:
    return db.session.scalar(
        select(Entry).join(Source).where(Source.origin == origin,
                                         Source.external_id == external_id))


def snapshot(entry: Entry) -> dict[str, Any]:
    """The entry as plain JSON values: what revisions store and writes compare."""
    lonlat = entry.lonlat
    return {
        "id": str(entry.id),
        **{name: getattr(entry, name) for name in ENTRY_FIELDS},
        "lon": round(lonlat[0], COORD_DIGITS) if lonlat else None,
        "lat": round(lonlat[1], COORD_DIGITS) if lonlat else None,
        "tags": sorted(tag.slug for tag in entry.tags),
        "relations": _sorted_relations(
            {"type": r.type, "target": str(r.target_id)} for r in entry.relations_out),
        "deleted_at": entry.deleted_at.isoformat() if entry.deleted_at else None,
    }


# -- writing --------------------------------------------------------------------

def create_entry(data: Mapping[str, Any], *, author: Author, comment: str | None = None,
                 source: SourceRef | None = None, commit: bool = True) -> Entry:
    return save_entry(None, data, author=author, comment=comment, source=source,
                      expected_version=None, commit=commit).entry


def update_entry(entry: Entry, data: Mapping[str, Any], *, expected_version: int | None,
                 author: Author, comment: str | None = None, source: SourceRef | None = None,
                 partial: bool = True, commit: bool = True) -> WriteResult:
    """Change `entry`. `expected_version` is the version the writer read (None: no check)."""
    return save_entry(entry, data, author=author, comment=comment, source=source,
                      expected_version=expected_version, partial=partial, commit=commit)


def save_entry(entry: Entry | None, data: Mapping[str, Any], *, author: Author,
               expected_version: int | None, comment: str | None = None,
               source: SourceRef | None = None, partial: bool = True,
               commit: bool = True, action: str | None = None,
               entry_id: uuid.UUID | None = None, savepoint: bool = True,
               strict: bool = True,
               attribution: Mapping[str, str | None] | None = None) -> WriteResult:
    """Create (entry None) or update; the single place where entries are written.

    `entry_id` gives a new entry its UUID (mirrors keep the ids of their source).
    Every check that can refuse the write runs before anything is written, so a
    refusal leaves the session as it was. `savepoint=False` is for a writer whose
    whole transaction fails as one (an import): no savepoint per write (past 64 in
    one transaction PostgreSQL's visibility checks slow down), and a refusal by the
    database itself (a race) then loses the transaction instead of this write only.
    `strict=False` is for programs that copy data (imports, sync): people's input rules
    (`EntryField.strict_check`) are not applied.
    The fields it changes are then held by its source, or by an editor when it has
    none (app.services.provenance); `attribution` names another holder per field (a
    settlement between sources).
    """
    creating = entry is None
    clean = _load(data, partial=partial and not creating, strict=strict)
    if not creating and expected_version is not None and entry.version != expected_version:
        raise ConflictError("entry", entry.id, expected_version, entry.version)

    current = snapshot(entry) if entry is not None else None
    desired = _desired_state(current, clean)
    fill_insee_code(desired, current, clean)
    _check_located(desired)
    if current is not None and all(desired[k] == current[k] for k in CONTENT_KEYS):
        if source is not None:
            _attach_source(entry, source, _owned_source(entry, source))
        if attribution:  # the same values, now held by another source
            provenance.on_write(entry, current, current, origin=None, user_id=None,
                                attribution=attribution)
        if source is not None or attribution:
            _finish(commit)
        return WriteResult(entry, "unchanged")

    tags = _tags(desired["tags"])
    if creating:
        entry = Entry(id=entry_id or uuid.uuid4())
    found = (_owned_source(entry, source, creating=creating) if source is not None
             else None)
    with guarded_write("entry", entry, expected_version, _integrity_to_validation,
                       savepoint=savepoint):
        if creating:
            desired["slug"] = desired["slug"] or _unique_slug(desired["name"])
            if _slug_taken(desired["slug"], None):
                raise WriteValidationError({"slug": [SLUG_TAKEN]})
            db.session.add(entry)
        elif desired["slug"] != current["slug"] and _slug_taken(desired["slug"], entry.id):
            raise WriteValidationError({"slug": [SLUG_TAKEN]})
        # One flush, one UPDATE, one version bump: no autoflush half-way.
        with db.session.no_autoflush:
            entry.updated_at = datetime.now(UTC)
            _apply(entry, desired, tags)
        db.session.flush()
        if source is not None:
            _attach_source(entry, source, found)
        after = snapshot(entry)
        record_revision("entry", entry.id, entry.version,
                        action or ("create" if creating else "update"),
                        after, author, comment)
        provenance.on_write(entry, current, after,
                            origin=source.origin if source is not None else None,
                            user_id=author.user.id if author.user else None,
                            attribution=attribution)
        db.session.flush()
    _finish(commit)
    return WriteResult(entry, "created" if creating else "updated")


@dataclass(frozen=True)
class CleanEntry:
    """Entry input already loaded by EntryInputSchema (through validate_entry), and the
    base of its slug when it gives none (pure work, done wherever validation runs:
    an importer's reading process)."""

    data: dict[str, Any]
    slug_base: str | None = None


def validate_entry(data: Mapping[str, Any], *, strict: bool = True) -> CleanEntry:
    """Validate new-entry input as create_entries will; WriteValidationError per field."""
    clean = _load(data, partial=False, strict=strict)
    return CleanEntry(clean, None if clean.get("slug") else slug_base(clean["name"]))


def as_snapshot(data: Mapping[str, Any]) -> dict[str, Any]:
    """What `data` would store on a new entry, in the form of `snapshot` (validated,
    normalised, relations resolved to ids): what the three-way rule compares."""
    return _desired_state(None, _load(data, partial=True, strict=False))


def slug_base(name: str) -> str:
    """The slug an entry named `name` gets when it is free (else "<base>-2", "-3"…)."""
    return slugify(name, max_length=100, word_boundary=True) or "entry"


@dataclass(frozen=True)
class NewEntry:
    """A new entry checked and rendered as create_entries' COPY text, but for what only
    the write can know: its slug when it gives none (slug_base is then the base), the
    ids of its tags, the timestamps, the author. Pure work (new_entry()), done
    wherever validation runs: an importer's reading process."""

    id: str
    slug: str | None
    slug_base: str | None
    tags: tuple[str, ...]
    # COPY text of the entry's columns from `kind` to `version` (ENTRY_COLUMNS).
    entry_text: str
    # COPY text of the source's origin, external id, licence and attributes (None: the
    # caller writes the entry's sources itself).
    source_text: str | None
    # The revision's snapshot as JSON without its slug and closing brace, COPY-escaped.
    snapshot_text: str
    # The entry's own creation and update times (ISO 8601) when it has them already (a
    # restored dump); None: the time of the write.
    created_at: str | None = None
    updated_at: str | None = None
    # COPY lines of who holds its fields (its source: app.services.provenance).
    holder_lines: tuple[str, ...] = ()
    # COPY text (target id, type) of its outgoing links, targets already resolved.
    relation_lines: tuple[str, ...] = ()


def new_state(data: CleanEntry, relations: Sequence[Mapping[str, str]] = (), *,
              fill_codes: bool = False, communes: Any = None) -> dict[str, Any]:
    """What a new entry of validated input would store (the form of `snapshot`, without
    id), its links given already resolved to local ids; `fill_codes` derives the INSEE
    code from the address as save_entry does (`communes`: the commune index, looked up
    once for a batch). WriteValidationError per field."""
    clean = data.data
    if clean.get("relations"):
        raise WriteValidationError({"relations": [coded(
            "relations_not_taken", "Give create_entries resolved relations apart.")]})
    state = _desired_state(None, clean)
    if relations:
        state["relations"] = _sorted_relations(relations)
    if fill_codes:
        fill_insee_code(state, None, clean, communes)
    _check_located(state)
    return state


def new_entry(data: Mapping[str, Any] | CleanEntry, source: SourceRef | None, *,
              entry_id: uuid.UUID | None = None, created_at: datetime | None = None,
              updated_at: datetime | None = None, strict: bool = False,
              relations: Sequence[Mapping[str, str]] = (),
              fill_codes: bool = False, communes: Any = None,
              state: dict[str, Any] | None = None) -> NewEntry:
    """Check new-entry input as save_entry would (schema, located check) and render it
    for create_entries; WriteValidationError per field. `entry_id` and the times are
    for entries that have them already (a restored dump keeps them). Bulk creation is
    for programs copying data: not `strict` by default (see save_entry). `relations`
    are links whose targets the caller has resolved to local ids (existing entries, or
    entries of the same batch); links in `data` are refused. `fill_codes`: see
    new_state (the write API and sync ask for it, as save_entry does it). `state`: what
    new_state gave for this very input already (a caller that checked it first)."""
    loaded = data if isinstance(data, CleanEntry) else validate_entry(data, strict=strict)
    if state is None:
        state = new_state(loaded, relations, fill_codes=fill_codes, communes=communes)
    key = str(entry_id or uuid.uuid4())
    if any(r["target"] == key for r in state["relations"]):
        raise WriteValidationError({"relations": [coded(
            "self_relation", "An entry cannot be related to itself.")]})
    geom = (None if state["lon"] is None
            else f"SRID=4326;POINT({state['lon']!r} {state['lat']!r})")
    shot = _state_snapshot(key, state)
    del shot["slug"]
    return NewEntry(
        id=key, slug=state["slug"],
        slug_base=None if state["slug"] else loaded.slug_base or slug_base(state["name"]),
        tags=tuple(state["tags"]),
        entry_text=copy_line((*_entry_values(state)[1:], geom, 1)),
        source_text=None if source is None else copy_line(
            (source.origin, source.external_id, source.licence, dict(source.attributes))),
        snapshot_text=copy_line((shot,))[:-1],
        created_at=created_at.isoformat() if created_at else None,
        updated_at=(updated_at or created_at).isoformat() if created_at else None,
        holder_lines=() if source is None else tuple(
            provenance.created_lines(key, state, source.origin)),
        relation_lines=tuple(f"{r['target']}\t{r['type']}" for r in state["relations"]))


ENTRY_COLUMNS = ("id", *ENTRY_FIELDS, "geom", "version", "created_at", "updated_at")
SOURCE_COLUMNS = ("entry_id", "origin", "external_id", "licence", "attributes",
                  "first_seen_at", "last_seen_at")
REVISION_COLUMNS = ("entity_type", "entity_id", "version", "action", "author_id",
                    "author_label", "comment", "created_at", "snapshot")


def create_entries(items: Sequence[tuple[Mapping[str, Any] | CleanEntry, SourceRef]
                                   | NewEntry], *,
                   author: Author, comment: str | None = None,
                   seen_at: datetime | None = None) -> list[uuid.UUID]:
    """Create many entries at once: the importers' path for new records.

    The same rules as save_entry (EntryInputSchema, the located check, the slug
    rule, a revision with the full snapshot, the source), written set-based: one
    COPY per table and batch instead of a dozen statements per entry.
    Input is raw (validated here), a CleanEntry from validate_entry (validated
    once), each with its source, or a NewEntry from new_entry (validated and
    rendered once; one made with `source=None` gets no source row, its caller writes
    them, and one with its own id and times keeps them). Relations are not taken
    here. Invalid input raises WriteValidationError keyed `<index>.<field>` before
    anything is written; a refusal by the database raises WriteValidationError after
    rolling the session back. `seen_at` stamps the sources (an import stamps
    everything it saw with its start).
    """
    if not items:
        return []
    planned, errors = [], {}
    for index, item in enumerate(items):
        try:
            planned.append(item if isinstance(item, NewEntry) else new_entry(*item))
        except WriteValidationError as exc:
            errors.update({f"{index}.{k}": v for k, v in exc.messages.items()})
    if errors:
        raise WriteValidationError(errors)

    wanted_tags = sorted({slug for plan in planned for slug in plan.tags})
    tag_ids = dict(db.session.execute(
        select(Tag.slug, Tag.id).where(Tag.slug.in_(wanted_tags))).all()) if wanted_tags else {}
    unknown = [s for s in wanted_tags if s not in tag_ids]
    if unknown:
        raise WriteValidationError({"tags": [unknown_tag(s) for s in unknown]})
    slugs = _assign_slugs([p.slug for p in planned], [p.slug_base for p in planned])

    # What only the write knows, rendered once for the batch.
    now = datetime.now(UTC)
    seen = (seen_at or now).isoformat()
    now = now.isoformat()
    author_text = copy_line((author.user.id if author.user else None, author.label,
                             (comment or None) and comment[:500]))
    tag_keys = {slug: str(tag_id) for slug, tag_id in tag_ids.items()}
    entry_lines, tag_lines, source_lines, revision_lines = [], [], [], []
    holder_lines: list[str] = []
    relation_lines: list[str] = []
    for plan, slug in zip(planned, slugs, strict=True):
        key, slug_text = plan.id, escape(slug)
        entry_lines.append(f"{key}\t{slug_text}\t{plan.entry_text}\t"
                           f"{plan.created_at or now}\t{plan.updated_at or now}")
        for tag in plan.tags:
            tag_lines.append(f"{key}\t{tag_keys[tag]}")
        relation_lines.extend(f"{key}\t{line}" for line in plan.relation_lines)
        if plan.source_text is not None:
            source_lines.append(f"{key}\t{plan.source_text}\t{seen}\t{seen}")
            holder_lines.extend(plan.holder_lines)
        revision_lines.append(f"entry\t{key}\t1\tcreate\t{author_text}\t{now}\t"
                              f"{plan.snapshot_text},\"slug\":{escape(_json(slug))}}}")
    # No savepoint per batch: past 64 subtransactions PostgreSQL's visibility checks
    # slow down for the rest of the transaction, and an import is one transaction.
    # A refusal by the database here (a race on a slug or a source) aborts it.
    try:
        # The stored features (migration 0007) once for the batch, after its tags,
        # rather than by the triggers of each COPY (entries, then tags again).
        db.session.execute(_DEFER_FEATURES, {"on": "on"})
        copy_lines("entries", ENTRY_COLUMNS, entry_lines)
        copy_lines("entry_tags", ("entry_id", "tag_id"), tag_lines)
        if relation_lines:
            copy_lines("relations", ("source_id", "target_id", "type"), relation_lines)
        db.session.execute(_DEFER_FEATURES, {"on": "off"})
        db.session.execute(_REFRESH_FEATURES, {"ids": [plan.id for plan in planned]})
        copy_lines("sources", SOURCE_COLUMNS, source_lines)
        copy_lines("revisions", REVISION_COLUMNS, revision_lines)
        copy_lines("entry_field_sources", ("entry_id", "field", "origin", "value_hash"),
                   holder_lines)
    except psycopg2.IntegrityError as exc:
        db.session.rollback()
        raise WriteValidationError({"entry": [f"Refused by the database: {exc.pgerror}"]}
                                   ) from exc
    return [uuid.UUID(plan.id) for plan in planned]


_DEFER_FEATURES = text("SELECT set_config('atlas.defer_features', :on, true)")
_REFRESH_FEATURES = text("SELECT public.atlas_refresh_features_batched(CAST(:ids AS uuid[]))")


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _state_snapshot(entry_id: str, state: dict[str, Any]) -> dict[str, Any]:
    """What snapshot(entry) gives for an entry just created from `state`."""
    return {"id": entry_id, **{name: state[name] for name in ENTRY_FIELDS},
            "lon": state["lon"], "lat": state["lat"], "tags": list(state["tags"]),
            "relations": list(state["relations"]), "deleted_at": None}


def _assign_slugs(given: list[str | None], bases: list[str | None]) -> list[str]:
    """The slug rule of save_entry for a whole batch: one query for every base.

    For each entry, its own slug (`given`), else the first free of `base`,
    `base-2`, `base-3`… (`bases`).
    """
    own = [g for g in given if g]
    wanted = sorted({b for b, g in zip(bases, given, strict=True) if not g})
    taken: set[str] = set()
    if own:
        clash = list(db.session.scalars(_TAKEN_SLUGS, {"slugs": own}))
        if clash or len(set(own)) != len(own):
            raise WriteValidationError({"slug": [
                coded("slug_taken", "The slug {value!r} is already used by another "
                      "entry.", value=s) for s in
                sorted(set(clash) | {g for g in own if own.count(g) > 1})]})
        taken.update(own)
    if wanted:
        taken.update(db.session.scalars(_TAKEN_SLUGS, {"slugs": wanted}))
        # Only a base already taken, or wanted twice, needs its "-N" slugs looked up.
        uses = Counter(b for b, g in zip(bases, given, strict=True) if not g)
        repeated = [b for b in wanted if b in taken or uses[b] > 1]
        if repeated:
            taken.update(db.session.execute(_SUFFIXED_SLUGS, {"bases": repeated}).scalars())
    slugs = []
    for slug, base in zip(given, bases, strict=True):
        if not slug:
            slug, n = base, 2
            while slug in taken:
                slug = f"{base}-{n}"
                n += 1
            taken.add(slug)
        slugs.append(slug)
    return slugs


def plan_entry(entry: Entry | None, data: Mapping[str, Any], *,
               partial: bool = True) -> dict[str, Any]:
    """The content (CONTENT_KEYS) that `save_entry` would store, checked but not written.

    Proposals use it: a contributor's edit is validated exactly like a write, and
    kept aside until an editor applies it.
    """
    clean = _load(data, partial=partial and entry is not None)
    desired = _desired_state(snapshot(entry) if entry is not None else None, clean)
    _check_located(desired)
    unknown = sorted(set(desired["tags"]) - set(db.session.scalars(
        select(Tag.slug).where(Tag.slug.in_(desired["tags"])))))
    if unknown:
        raise WriteValidationError({"tags": [unknown_tag(s) for s in unknown]})
    slug = desired["slug"]
    if slug and _slug_taken(slug, entry.id if entry is not None else None):
        raise WriteValidationError({"slug": [SLUG_TAKEN]})
    return {key: desired[key] for key in CONTENT_KEYS}


def delete_entry(entry: Entry, *, expected_version: int | None, author: Author,
                 comment: str | None = None, commit: bool = True) -> Entry:
    """A tombstone, not a DELETE: mirrors must learn of it, and an admin may restore it."""
    return _set_deleted(entry, datetime.now(UTC), "delete", expected_version, author, comment,
                        commit)


def restore_entry(entry: Entry, *, expected_version: int | None, author: Author,
                  comment: str | None = None, commit: bool = True) -> Entry:
    return _set_deleted(entry, None, "restore", expected_version, author, comment, commit)


def revert_entry(entry: Entry, to_version: int, *, expected_version: int | None,
                 author: Author, comment: str | None = None, commit: bool = True) -> WriteResult:
    """Write the content of an earlier revision as a new revision.

    The moderation state stays the current one: going back to the text of a
    contributor's first version must not withdraw a published entry.
    """
    revision = revision_at("entry", entry.id, to_version)
    if revision is None:
        raise NotFoundError(f"Entry {entry.slug} has no version {to_version}")
    old = revision.snapshot
    data = {key: old.get(key) for key in CONTENT_KEYS}
    data["moderation"] = entry.moderation
    existing = set(db.session.scalars(select(Entry.id).where(Entry.id.in_(
        [uuid.UUID(r["target"]) for r in old.get("relations", [])]))))
    data["relations"] = [r for r in old.get("relations", [])
                         if uuid.UUID(r["target"]) in existing]
    return save_entry(entry, data, author=author, expected_version=expected_version,
                      comment=comment or note("revert", version=to_version), partial=False,
                      commit=commit, action="revert", strict=False)


# -- internals ------------------------------------------------------------------

def _load(data: Mapping[str, Any], *, partial: bool, strict: bool = True) -> dict[str, Any]:
    """Input through EntryInputSchema (one shared instance: building one is not free)."""
    try:
        return _LOADERS[strict].load(dict(data), partial=partial)
    except ValidationError as exc:
        raise WriteValidationError(_flatten(exc.messages)) from None


def _desired_state(current: dict[str, Any] | None, clean: dict[str, Any],
                   targets: Mapping[str, str | None] | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {key: None for key in CONTENT_KEYS}
    state.update({"status": "active", "moderation": "published", "tags": [], "relations": []})
    if current is not None:
        state.update({key: current[key] for key in CONTENT_KEYS})
    for key, value in clean.items():
        state[key] = value
    if "lon" in clean or "lat" in clean:
        if clean.get("lon") is None:
            state["lon"] = state["lat"] = None
        else:
            state["lon"] = round(clean["lon"], COORD_DIGITS)
            state["lat"] = round(clean["lat"], COORD_DIGITS)
    state["tags"] = sorted(set(state["tags"]))
    if "relations" in clean:
        state["relations"] = _resolve_relations(clean["relations"], current, targets)
    return state


def _resolve_relations(relations: list[dict[str, str]], current: dict[str, Any] | None,
                       targets: Mapping[str, str | None] | None = None
                       ) -> list[dict[str, str]]:
    """Each link's target as a local id; `targets` holds those a batch looked up at
    once (target as given -> local id, None: no such entry), the others are found here."""
    resolved, errors = [], {}
    for index, relation in enumerate(relations):
        given = str(relation["target"])
        if targets is not None and given in targets:
            target_id = targets[given]
        else:
            found = find_entry(relation["target"])
            target_id = str(found.id) if found is not None else None
        if target_id is None:
            errors[f"relations.{index}.target"] = [coded(
                "no_such_entry", "No entry {value!r}.", value=relation["target"])]
        elif current is not None and target_id == current["id"]:
            errors[f"relations.{index}.target"] = [coded(
                "self_relation", "An entry cannot be related to itself.")]
        else:
            resolved.append({"type": relation["type"], "target": target_id})
    if errors:
        raise WriteValidationError(errors)
    return _sorted_relations(resolved)


def _sorted_relations(relations: Any) -> list[dict[str, str]]:
    unique = {(r["type"], r["target"]) for r in relations}
    return [{"type": t, "target": target} for t, target in sorted(unique)]


def _check_located(state: dict[str, Any]) -> None:
    if (state["kind"] in LOCATED_KINDS and state["lon"] is None
            and state["moderation"] == "published"):
        raise WriteValidationError({"lon": [coded(
            "position_needed", "A third place needs a position (lon and lat).")]})


def _apply(entry: Entry, state: dict[str, Any], tags: list[Tag]) -> None:
    for name in ENTRY_FIELDS:
        if getattr(entry, name) != state[name]:
            setattr(entry, name, state[name])
    if state["lon"] is None:
        entry.geom = None
    else:
        entry.geom = from_shape(Point(state["lon"], state["lat"]), srid=4326)
    if sorted(t.slug for t in entry.tags) != sorted(t.slug for t in tags):
        entry.tags = sorted(tags, key=lambda t: t.slug)
    _apply_relations(entry, state["relations"])


def _tags(slugs: list[str]) -> list[Tag]:
    """The Tag of each slug; WriteValidationError (before any write) for unknown ones."""
    tags = list(db.session.scalars(select(Tag).where(Tag.slug.in_(slugs)))) if slugs else []
    unknown = sorted(set(slugs) - {t.slug for t in tags})
    if unknown:
        raise WriteValidationError({"tags": [unknown_tag(s) for s in unknown]})
    return tags


def _apply_relations(entry: Entry, wanted: list[dict[str, str]]) -> None:
    keys = {(r["type"], uuid.UUID(r["target"])) for r in wanted}
    kept = [r for r in entry.relations_out if (r.type, r.target_id) in keys]
    have = {(r.type, r.target_id) for r in kept}
    added = [Relation(type=t, target_id=target) for t, target in sorted(keys - have,
                                                                         key=str)]
    if len(kept) != len(entry.relations_out) or added:
        entry.relations_out = kept + added


def _set_deleted(entry: Entry, when: datetime | None, action: str,
                 expected_version: int | None, author: Author, comment: str | None,
                 commit: bool) -> Entry:
    return set_tombstone("entry", entry, when, action, expected_version=expected_version,
                         author=author, comment=comment, snapshot=snapshot,
                         on_integrity=_integrity_to_validation, commit=commit)


def _owned_source(entry: Entry, ref: SourceRef, *, creating: bool = False) -> Source | None:
    """The Source of `ref` if it exists; WriteValidationError if another entry has it.

    Found among the entry's sources when they are loaded (an import preloads them
    for a batch): no query per write.
    """
    if not creating and "sources" not in sa_inspect(entry).unloaded:
        for source in entry.sources:
            if (source.origin, source.external_id) == (ref.origin, ref.external_id) \
                    and source.entry_id == entry.id:
                return source
    source = db.session.scalar(select(Source).where(
        Source.origin == ref.origin, Source.external_id == ref.external_id))
    if source is not None and source.entry_id != entry.id:
        raise WriteValidationError({"source": [coded(
            "source_taken", "{origin} {external_id} already belongs to another entry.",
            origin=ref.origin, external_id=ref.external_id)]})
    return source


def _attach_source(entry: Entry, ref: SourceRef, source: Source | None) -> Source:
    """Record `ref` on `entry`; `source` is its Source as _owned_source found it."""
    source, new = claim_source(entry.id, ref, source, datetime.now(UTC))
    if new:
        db.session.flush()
        db.session.expire(entry, ["sources"])
    return source


def claim_source(entry_id: uuid.UUID, ref: SourceRef, source: Source | None,
                 now: datetime) -> tuple[Source, bool]:
    """`ref` recorded on entry `entry_id`: `source` brought up to date, or a new Source
    added (not flushed; True). By id, not through entry.sources: a collection change
    would bump the entry's version although its content did not change."""
    if source is None:
        source = Source(entry_id=entry_id, origin=ref.origin, external_id=ref.external_id,
                        attributes=dict(ref.attributes), licence=ref.licence,
                        first_seen_at=now, last_seen_at=now)
        db.session.add(source)
        return source, True
    if source.attributes != dict(ref.attributes):
        source.attributes = dict(ref.attributes)
    if source.licence != ref.licence:
        source.licence = ref.licence
    source.last_seen_at = now
    return source, False


def _unique_slug(name: str) -> str:
    base = slug_base(name)
    taken = set(db.session.scalars(select(Entry.slug).where(
        (Entry.slug == base) | Entry.slug.like(f"{base}-%"))))
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _slug_taken(slug: str, own_id: uuid.UUID | None) -> bool:
    stmt = select(Entry.id).where(Entry.slug == slug)
    if own_id is not None:
        stmt = stmt.where(Entry.id != own_id)
    return db.session.scalar(stmt) is not None


def known_tags(slugs: set[str]) -> set[str]:
    """Which of `slugs` are tags here (one query for a batch)."""
    return set(db.session.scalars(select(Tag.slug).where(Tag.slug.in_(sorted(slugs))))) \
        if slugs else set()


def check_tags(slugs: Sequence[str], known: set[str]) -> None:
    """WriteValidationError, as save_entry words it, for the slugs not in `known`."""
    unknown = sorted(set(slugs) - known)
    if unknown:
        raise WriteValidationError({"tags": [unknown_tag(s) for s in unknown]})


def unknown_tag(slug: str) -> str:
    return coded("unknown_tag", "Unknown tag {value!r}.", value=slug)


def _integrity_to_validation(exc: IntegrityError) -> WriteValidationError:
    name = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
    field_name, message = CONSTRAINT_FIELDS.get(name or "", ("entry", coded(
        "database_refused", "Refused by the database ({name}).", name=name)))
    return WriteValidationError({field_name: [message]})


def _flatten(messages: Mapping[str, Any], prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as dotted keys: relations.0.type."""
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        # A Dict field nests its values' messages under "value": answers.governance.level.
        name = prefix.rstrip(".") if key == "value" and prefix else f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}." if name else ""))
        else:
            flat[name] = list(value) if isinstance(value, list) else [str(value)]
    return flat


def _finish(commit: bool) -> None:
    if commit:
        db.session.commit()
    else:
        db.session.flush()
