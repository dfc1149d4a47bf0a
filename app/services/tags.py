"""Tags are written here and nowhere else: what a valid tag is, get-or-create, and the
editors' changes (add, rename, describe, merge).

Every writer that brings tags (a mapping's `[[tags]]`, a dump's tags.csv or the slugs
its entries name, a peer's /api/v1/tags, the demo file) hands them to `ensure_tags`.
An existing tag is never changed by them: an editor may have renamed it. A tag that
cannot be stored is refused with its reason, before anything is written, so the
caller can report it or fail. The editors' pages write through `create_tag`,
`update_tag` and `merge_tags`, each change a revision (entity "tag"); a tag's slug is
its identity in entries' snapshots, so renaming changes its labels.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from ..extensions import db
from ..models import Tag, entry_tags
from ..models.vocab import TAG_GROUPS
from ..normalise import clean_text
from ..schemas.common import SLUG_PATTERN
from .errors import WriteValidationError, coded
from .revisions import Author, next_version, note, record_revision, vocabulary_id

DEFAULT_GROUP = "activity"
SLUG_MAX = 80  # tags.slug
LABEL_MAX = 120  # tags.label_fr, tags.label_en
SLUG = re.compile(SLUG_PATTERN)


def tag_values(spec: Mapping[str, Any]) -> dict[str, str]:
    """The row of a tag as it is stored: labels as typed text is stored, a missing label
    is the slug, a missing group is "activity". WriteValidationError names the field."""
    slug = spec.get("slug")
    errors: dict[str, list[str]] = {}
    if not isinstance(slug, str) or not SLUG.match(slug) or len(slug) > SLUG_MAX:
        errors["slug"] = [f"{slug!r} is not a tag slug: lowercase letters, digits and "
                          f"single hyphens, at most {SLUG_MAX}."]
        slug = ""
    row = {"slug": slug}
    for name in ("label_fr", "label_en"):
        value = spec.get(name)
        label = clean_text(value) if isinstance(value, str) else None
        row[name] = label or slug
        if len(row[name]) > LABEL_MAX:
            errors[name] = [f"Longer than {LABEL_MAX} characters."]
    group = spec.get("group") or DEFAULT_GROUP
    if group not in TAG_GROUPS:
        errors["group"] = [f"{group!r} is not one of {', '.join(TAG_GROUPS)}."]
    row["group"] = group
    if errors:
        raise WriteValidationError(errors)
    return row


@dataclass
class Ensured:
    """What `ensure_tags` did: the slugs it created, and the specs it refused."""

    created: list[str] = field(default_factory=list)
    # (the slug as given, why it was refused)
    refused: list[tuple[str, str]] = field(default_factory=list)


def ensure_tags(specs: Iterable[Mapping[str, Any]]) -> Ensured:
    """Create the tags of `specs` that do not exist yet, in one statement (safe against a
    concurrent writer creating the same one); existing ones are left as they are."""
    out = Ensured()
    rows: dict[str, dict[str, str]] = {}
    for spec in specs:
        try:
            row = tag_values(spec)
        except WriteValidationError as exc:
            out.refused.append((str(spec.get("slug")), str(exc)))
            continue
        rows.setdefault(row["slug"], row)
    if rows:
        out.created = sorted(db.session.scalars(
            pg_insert(Tag).values(list(rows.values()))
            .on_conflict_do_nothing(index_elements=["slug"]).returning(Tag.slug)))
    return out


# -- the editors' changes --------------------------------------------------------------------

DESCRIPTION_MAX = 5_000
TAG_FIELDS = ("label_fr", "label_en", "group", "description_fr", "description_en")
ENTITY = "tag"


def tag_snapshot(tag: Tag) -> dict[str, Any]:
    """The tag as its revisions store it."""
    return {"id": tag.id, "slug": tag.slug, **{name: getattr(tag, name) for name in TAG_FIELDS}}


def tag_revision_id(tag: Tag | int) -> Any:
    return vocabulary_id(ENTITY, tag if isinstance(tag, int) else tag.id)


def _record(tag: Tag, action: str, author: Author, comment: str | None,
            snapshot: dict[str, Any] | None = None) -> None:
    entity_id = tag_revision_id(tag)
    record_revision(ENTITY, entity_id, next_version(ENTITY, entity_id), action,
                    snapshot or tag_snapshot(tag), author, comment)


def _edited_values(spec: Mapping[str, Any]) -> dict[str, Any]:
    """`tag_values` plus the descriptions."""
    errors: dict[str, list[str]] = {}
    try:
        row: dict[str, Any] = tag_values(spec)
    except WriteValidationError as exc:
        errors.update(exc.messages)
        row = {}
    for name in ("description_fr", "description_en"):
        value = spec.get(name)
        row[name] = (clean_text(value) if isinstance(value, str) else None) or None
        if row[name] and len(row[name]) > DESCRIPTION_MAX:
            errors[name] = [coded("too_long", "At most {max} characters.",
                                  max=DESCRIPTION_MAX)]
    if errors:
        raise WriteValidationError(errors)
    return row


def _finish(commit: bool) -> None:
    if commit:
        db.session.commit()
    else:
        db.session.flush()


def create_tag(spec: Mapping[str, Any], *, author: Author, comment: str | None = None,
               commit: bool = True) -> Tag:
    row = _edited_values(spec)
    if db.session.scalar(select(Tag.id).where(Tag.slug == row["slug"])) is not None:
        raise WriteValidationError({"slug": [coded("tag_taken",
                                                   "A tag with this address exists already.")]})
    tag = Tag(**row)
    db.session.add(tag)
    db.session.flush()
    _record(tag, "create", author, comment)
    _finish(commit)
    return tag


def update_tag(tag: Tag, spec: Mapping[str, Any], *, author: Author,
               comment: str | None = None, commit: bool = True) -> bool:
    """New labels, group or descriptions (the slug stays); False when nothing changed."""
    row = _edited_values({**spec, "slug": tag.slug})
    db.session.refresh(tag, with_for_update=True)
    changed = [name for name in TAG_FIELDS if getattr(tag, name) != row[name]]
    if not changed:
        return False
    for name in changed:
        setattr(tag, name, row[name])
    db.session.flush()
    _record(tag, "update", author, comment)
    _finish(commit)
    return True


_DEFER_FEATURES = text("SELECT set_config('atlas.defer_features', :on, true)")
_REFRESH_FEATURES = text(
    "SELECT public.atlas_refresh_features_batched(CAST(:ids AS uuid[]))")
_CARRY_OVER = text("""
    INSERT INTO entry_tags (entry_id, tag_id)
    SELECT entry_id, :target FROM entry_tags WHERE tag_id = :source
    ON CONFLICT DO NOTHING""")
_DROP_SOURCE_LINKS = text("DELETE FROM entry_tags WHERE tag_id = :source")
_BUMP_ENTRIES = text("""
    UPDATE entries SET version = version + 1, updated_at = now()
    WHERE id = ANY(CAST(:ids AS uuid[]))""")
# One revision per entry, set-based: its last snapshot with the tags it has now.
_ENTRY_REVISIONS = text("""
    INSERT INTO revisions (entity_type, entity_id, version, action, author_id, author_label,
                           comment, snapshot)
    SELECT 'entry', e.id, e.version, 'update', :author_id, :author_label, :comment,
           jsonb_set(last.snapshot, '{tags}', coalesce(
               (SELECT jsonb_agg(t.slug ORDER BY t.slug) FROM entry_tags et
                JOIN tags t ON t.id = et.tag_id WHERE et.entry_id = e.id), '[]'::jsonb))
    FROM entries e
    CROSS JOIN LATERAL (SELECT r.snapshot FROM revisions r
                        WHERE r.entity_type = 'entry' AND r.entity_id = e.id
                        ORDER BY r.version DESC LIMIT 1) last
    WHERE e.id = ANY(CAST(:ids AS uuid[]))""")
# Pending edits name tags by slug: the merged one becomes the survivor.
_PROPOSALS = text("""
    UPDATE proposals SET data = jsonb_set(data, '{tags}', (
        SELECT coalesce(jsonb_agg(DISTINCT s ORDER BY s), '[]'::jsonb) FROM (
            SELECT CASE WHEN value = :source_slug THEN :target_slug ELSE value END AS s
            FROM jsonb_array_elements_text(data -> 'tags')) t))
    WHERE state = 'pending' AND data IS NOT NULL AND data -> 'tags' ? :source_slug""")


@dataclass(frozen=True)
class Merged:
    """What `merge_tags` did."""

    entries: int     # entries that carried the merged tag
    proposals: int   # pending proposals whose tags were rewritten


def merge_tags(source: Tag, target: Tag, *, author: Author, comment: str | None = None,
               commit: bool = True) -> Merged:
    """Carry the entries of `source` over to `target` and remove `source`.

    Each entry that carried `source` is written once (version, revision, change feed),
    set-based; their stored features are refreshed once, in the batches of
    `atlas_refresh_features_batched` (migration 0011), as the importers do. Pending
    proposals that name `source` name `target` instead.
    """
    if source.id == target.id:
        raise WriteValidationError({"target": [coded(
            "same_tag", "Choose two different tags.")]})
    locked = db.session.scalars(select(Tag).where(Tag.id.in_((source.id, target.id)))
                                .order_by(Tag.id).with_for_update()
                                .execution_options(populate_existing=True)).all()
    if len(locked) != 2:
        raise WriteValidationError({"source": [coded("no_such_tag", "No such tag.")]})
    db.session.flush()
    ids = [str(i) for i in db.session.scalars(
        select(entry_tags.c.entry_id).where(entry_tags.c.tag_id == source.id))]
    written = note("tag_merged", comment, source=source.slug, target=target.slug)
    params = {"source": source.id, "target": target.id, "ids": ids}
    if ids:
        db.session.execute(_DEFER_FEATURES, {"on": "on"})
        db.session.execute(_CARRY_OVER, params)
        db.session.execute(_DROP_SOURCE_LINKS, params)
        db.session.execute(_BUMP_ENTRIES, params)
        db.session.execute(_ENTRY_REVISIONS, {
            "ids": ids, "author_id": author.user.id if author.user else None,
            "author_label": None if author.user else author.label, "comment": written[:500]})
        db.session.execute(_DEFER_FEATURES, {"on": "off"})
        db.session.execute(_REFRESH_FEATURES, {"ids": ids})
    proposals = db.session.execute(_PROPOSALS, {"source_slug": source.slug,
                                                "target_slug": target.slug}).rowcount
    gone = {**tag_snapshot(source), "merged_into": target.slug}
    _record(source, "merge", author, written, snapshot=gone)
    _record(target, "merge", author, written)
    db.session.delete(source)
    db.session.flush()
    db.session.expire_all()
    _finish(commit)
    return Merged(len(ids), proposals)
