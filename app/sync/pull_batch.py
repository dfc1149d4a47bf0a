"""A pull's new entries, written set-based: the page's plain creations in one COPY per table.

Most of a first pull is entries this instance has never seen: no local entry under
their id or an alias, no source from this remote, no known alias, no twin by the one
twin rule. Those are found for the whole page with a handful of queries, then written
by the write service's `create_entries` (validation, slug rule, revision, source,
provenance, links) instead of a dozen statements each. Everything else (updates,
links to twins, adoptions, deletions) goes entry by entry through the Puller, in the
page's order, so the three-way rule and the twin rule apply exactly as before. What
is written is what `Puller._create` would write: the same entry, version 1, revision,
source baseline (`remote`, `applied`, `local_version`, `pending`) and holders.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text

from ..communes.index import CommuneIndex, commune_index
from ..extensions import db
from ..models import Entry, IdentityLink, Relation, Revision, Source
from ..services.entries import (
    NewEntry,
    SourceRef,
    check_tags,
    create_entries,
    known_tags,
    new_entry,
    new_state,
    validate_entry,
)
from ..services.errors import WriteValidationError
from ..services.links import as_uuid
from ..services.twin_rule import DUPLICATES_SQL, twin_params
from . import content as C
from .pages import Prepared

if TYPE_CHECKING:
    from .pull import Puller

_TAKEN_SLUGS = text("SELECT slug FROM entries WHERE slug = ANY(CAST(:slugs AS text[]))")


@dataclass
class Plain:
    """A change of the page that creates a new entry here."""

    entry_id: uuid.UUID
    remote: dict[str, Any]
    record: dict[str, Any]
    # Read ahead (app/sync/pages.py): its write input and that input validated.
    prepared: Prepared | None = None


def plain_creations(puller: Puller, changes: list[dict[str, Any]],
                    prepared: dict[int, Prepared] | None = None) -> dict[int, Plain]:
    """The changes (by index) that only create: nothing here is the same entry."""
    prepared = prepared or {}
    candidates: dict[int, tuple[uuid.UUID, dict[str, Any], list[uuid.UUID]]] = {}
    seen: set[uuid.UUID] = set()
    for index, change in enumerate(changes):
        key = as_uuid(change.get("id")) if isinstance(change, dict) else None
        record = change.get("entry") if key is not None else None
        if key is None or change.get("op") != "upsert" or not isinstance(record, dict) \
                or key in seen:
            if key is not None:
                seen.add(key)
            continue
        seen.add(key)
        aliases = [a for a in (as_uuid(x) for x in change.get("aliases") or []) if a]
        candidates[index] = (key, record, aliases)
    if not candidates:
        return {}
    ids = {key for key, _, _ in candidates.values()}
    aliases = {a for _, _, found in candidates.values() for a in found}
    everything = list(ids | aliases)
    known = set(db.session.scalars(select(Entry.id).where(Entry.id.in_(everything))))
    known |= set(db.session.scalars(select(IdentityLink.alias_id).where(
        IdentityLink.entity_type == "entry", IdentityLink.alias_id.in_(everything))))
    known |= {uuid.UUID(x) for x in db.session.scalars(select(Source.external_id).where(
        Source.origin == puller.origin, Source.external_id.in_([str(k) for k in ids])))}
    known_aliases = {uuid.UUID(x) for x in db.session.scalars(select(Source.external_id).where(
        Source.external_id.in_([str(a) for a in aliases])))} if aliases else set()
    plain = {i: c for i, c in candidates.items()
             if c[0] not in known and not any(a in known or a in known_aliases or a in ids
                                              for a in c[2])}
    twins = _twins(puller.origin, {i: c[1] for i, c in plain.items()})
    return {i: Plain(key, prepared[i].remote if i in prepared
                     else C.from_record(record, changes[i].get("relations")), record,
                     prepared.get(i))
            for i, (key, record, _) in plain.items() if i not in twins}


def _twins(origin: str, records: dict[int, dict[str, Any]]) -> set[int]:
    """The indexes of `records` that have a live local twin not from `origin`."""
    named = {i: r for i, r in records.items() if r.get("name")}
    if not named:
        return set()
    order = list(named)
    rows = db.session.execute(DUPLICATES_SQL, twin_params(
        [named[i] for i in order], order)).all()
    if not rows:
        return set()
    # Entries of this very remote are other entries of it, never its twins.
    ours = set(db.session.scalars(select(Source.entry_id).where(
        Source.origin == origin, Source.entry_id.in_([row.id for row in rows]))))
    return {row.idx for row in rows if row.id not in ours}


def create_plain(puller: Puller, items: list[Plain]) -> None:
    """Write `items` (in the page's order) set-based, with Puller._create's outcome."""
    if not items:
        return
    targets = _targets(puller, {r["target"] for item in items
                                for r in item.remote["relations"]})
    tags = known_tags({t for item in items for t in item.remote["tags"]})
    communes = commune_index()
    taken = set(db.session.scalars(_TAKEN_SLUGS, {"slugs": sorted(
        {item.remote["slug"] for item in items if item.remote.get("slug")})}))
    plans: list[NewEntry] = []
    for item in items:
        key = str(item.entry_id)
        ready, waiting = [], []
        for relation in item.remote["relations"]:
            target = targets.get(relation["target"])
            (ready if target is not None else waiting).append(
                {"type": relation["type"], "target": target} if target else relation)
        ready.sort(key=lambda r: (r["type"], r["target"]))
        if item.prepared is not None:
            data = dict(item.prepared.data)
        else:
            data = C.to_input({**item.remote, "relations": []})
            del data["relations"]
        if data.get("slug") in taken:
            puller._note("warning", f"the slug {data['slug']!r} is taken here; the entry "
                         "keeps another one", key, field="slug")
            data["slug"] = None
        ahead = item.prepared
        if ahead is not None and ahead.plan is not None and not item.remote["relations"] \
                and data == ahead.data and set(ahead.plan.tags) <= tags:
            plan = ahead.plan  # rendered while the page before was written
        else:
            plan = _plan(puller, item, data, ready, waiting, tags, communes)
        if plan is None:
            continue
        plans.append(plan)
        if data.get("slug"):
            taken.add(data["slug"])
        targets[key] = key  # later entries of the batch may link to it
    try:
        create_entries(plans, author=puller.author, comment=f"Pulled from {puller.name}")
    except WriteValidationError as exc:  # the database refused (a race): the page fails
        raise ValueError(f"the database refused a batch of pulled entries: {exc}") from None
    puller.ledger.count("created", len(plans))


def _plan(puller: Puller, item: Plain, data: dict[str, Any], ready: list[dict[str, str]],
          waiting: list[dict[str, str]], tags: set[str], communes: CommuneIndex
          ) -> NewEntry | None:
    """The entry rendered for create_entries with its source's baseline; a refusal is
    reported as Puller._write reports it (None)."""
    key = str(item.entry_id)
    ahead = item.prepared
    for attempt in (1, 2):
        try:
            # Validated ahead when the input is still what was read (no slug dropped).
            loaded = (ahead.loaded if ahead is not None and ahead.loaded is not None
                      and attempt == 1 and data == ahead.data
                      else validate_entry(data, strict=False))
            state = new_state(loaded, ready, fill_codes=True, communes=communes)
            check_tags(state["tags"], tags)
            break
        except WriteValidationError as exc:
            if attempt == 1 and set(exc.messages) == {"slug"} and data.get("slug"):
                puller._note("warning", f"the slug {data['slug']!r} is taken here; the "
                             "entry keeps another one", key, field="slug")
                data["slug"] = None
                continue
            puller._note("rejected", str(exc), key, entry=data.get("slug"))
            return None
    attributes: dict[str, Any] = {
        "remote": item.remote, "applied": _content(state), "local_version": 1,
        "remote_version": item.record.get("version"), "url": puller.remote.base_url}
    if waiting:
        attributes["pending"] = waiting
    source = SourceRef(puller.origin, key, attributes, licence=puller.licence)
    return new_entry(loaded, source, entry_id=item.entry_id, relations=ready,
                     fill_codes=True, communes=communes, state=state)


def render_ahead(origin: str, licence: str | None, url: str
                 ) -> Callable[[dict[str, Any], Prepared, Any], NewEntry | None]:
    """What `_plan` renders for a change without links (nothing to look up here but the
    commune index), for the feed's reader to do ahead (app/sync/pages.py); None when it
    cannot (the writer then does it and reports the refusal)."""

    def render(change: dict[str, Any], ready: Prepared, communes: Any) -> NewEntry | None:
        key = as_uuid(change.get("id"))
        if key is None or ready.loaded is None or ready.remote["relations"]:
            return None
        try:
            state = new_state(ready.loaded, [], fill_codes=True, communes=communes)
            attributes = {"remote": ready.remote, "applied": _content(state),
                          "local_version": 1,
                          "remote_version": change["entry"].get("version"), "url": url}
            source = SourceRef(origin, str(key), attributes, licence=licence)
            return new_entry(ready.loaded, source, entry_id=key, relations=[],
                             fill_codes=True, communes=communes, state=state)
        except WriteValidationError:
            return None

    return render


def _content(state: dict[str, Any]) -> dict[str, Any]:
    """Sync content of a new entry's state: what C.from_entry gives once it is written."""
    content = {name: state[name] for name in C.SCALARS}
    content["position"] = (None if state["lon"] is None
                           else [state["lon"], state["lat"]])
    content["tags"] = sorted(state["tags"])
    content["relations"] = [{"type": r["type"], "target": r["target"]}
                            for r in state["relations"]]
    return content


def _targets(puller: Puller, wanted: Iterable[str]) -> dict[str, str]:
    """Link targets (remote ids) -> the live local entry's id, as Puller._resolved finds
    them: the id itself, an alias, or what this remote's entry became here."""
    keys = [k for k in (as_uuid(w) for w in wanted) if k is not None]
    if not keys:
        return {}
    found: dict[uuid.UUID, uuid.UUID] = {}
    for key, local in db.session.execute(select(IdentityLink.alias_id, IdentityLink.entity_id)
                                         .where(IdentityLink.entity_type == "entry",
                                                IdentityLink.alias_id.in_(keys))):
        found[key] = local
    for external, local in db.session.execute(select(Source.external_id, Source.entry_id).where(
            Source.origin == puller.origin, Source.external_id.in_([str(k) for k in keys]))):
        found.setdefault(uuid.UUID(external), local)
    own = set(db.session.scalars(select(Entry.id).where(Entry.id.in_(keys))))
    for key in own:  # its own id first, as local_entry reads it
        found[key] = key
    live = set(db.session.scalars(select(Entry.id).where(
        Entry.id.in_(list(set(found.values()))), Entry.deleted_at.is_(None))))
    return {str(key): str(local) for key, local in found.items() if local in live}


_BUMP = text("UPDATE entries SET version = version + 1, updated_at = :now "
             "WHERE id = ANY(CAST(:ids AS uuid[])) RETURNING id, version")
_LAST_SNAPSHOTS = text(
    "SELECT entity_id, snapshot FROM revisions WHERE entity_type = 'entry' "
    "AND (entity_id, version) IN (SELECT id, version FROM entries "
    "WHERE id = ANY(CAST(:ids AS uuid[])))")


def resolve_pending(puller: Puller) -> set[uuid.UUID]:
    """Links waiting for their targets, made set-based for the entries nobody changed here
    since they were pulled (a first mirror's case): what Puller._resolve_pending writes
    for each (the links, a version, its revision, the source's baseline), in a few
    statements. Returns the sources it settled; the others are left to the Puller."""
    from datetime import UTC, datetime

    rows = db.session.execute(select(Source, Entry.version).join(
        Entry, Entry.id == Source.entry_id).where(
        Source.origin == puller.origin, Source.attributes.has_key("pending"),
        Entry.deleted_at.is_(None))).all()
    simple = [(source, version) for source, version in rows
              if (source.attributes or {}).get("local_version") == version
              and not source.attributes.get("linked")]
    if not simple:
        return set()
    targets = _targets(puller, {r["target"] for source, _ in simple
                                for r in source.attributes["remote"]["relations"]})
    ids = [source.entry_id for source, _ in simple]
    have = {(s, t, k) for s, t, k in db.session.execute(
        select(Relation.source_id, Relation.target_id, Relation.type).where(
            Relation.source_id.in_(ids)))}
    plan: dict[uuid.UUID, tuple[Source, list[dict[str, str]], list[dict[str, str]]]] = {}
    for source, _ in simple:
        attrs = source.attributes
        ready, still = [], []
        for relation in attrs["remote"]["relations"]:
            target = targets.get(relation["target"])
            if target is not None and target != str(source.entry_id):
                ready.append({"type": relation["type"], "target": target})
            else:
                still.append(relation)
        if len(still) == len(attrs["pending"]):
            continue
        ready = [{"type": t, "target": g} for t, g in sorted({(r["type"], r["target"])
                                                             for r in ready})]
        plan[source.entry_id] = (source, ready, still)
    if not plan:
        return set()
    new = [(key, uuid.UUID(r["target"]), r["type"]) for key, (_, ready, _) in plan.items()
           for r in ready if (key, uuid.UUID(r["target"]), r["type"]) not in have]
    db.session.flush()
    if new:
        db.session.execute(Relation.__table__.insert(), [
            {"source_id": s, "target_id": t, "type": k} for s, t, k in new])
    snapshots = dict(db.session.execute(_LAST_SNAPSHOTS, {"ids": [str(k) for k in plan]}).all())
    now = datetime.now(UTC)
    versions = dict(db.session.execute(_BUMP, {"ids": [str(k) for k in plan],
                                               "now": now}).all())
    revisions = []
    for key, (source, ready, still) in plan.items():
        revisions.append({
            "entity_type": "entry", "entity_id": key, "version": versions[key],
            "action": "update", "author_id": None, "author_label": puller.author.label,
            "comment": f"Pulled from {puller.name}"[:500],
            "snapshot": {**snapshots[key], "relations": ready}})
        attrs = {**source.attributes, "applied": {**source.attributes["applied"],
                                                  "relations": ready},
                 "local_version": versions[key], "url": puller.remote.base_url}
        attrs.pop("pending", None)
        if still:
            attrs["pending"] = still
        source.attributes = attrs
        source.last_seen_at = now
        if puller.licence and source.licence != puller.licence:
            source.licence = puller.licence
    db.session.execute(Revision.__table__.insert(), revisions)
    db.session.flush()
    # Read before expire_all: after it each would be loaded again, one query apiece.
    settled = {source.id for source, _, _ in plan.values()}
    db.session.expire_all()  # the entries' versions and links changed underneath
    return settled
