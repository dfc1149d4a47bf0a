"""Tags are created here and nowhere else: what a valid tag is, and get-or-create.

Every writer that brings tags (a mapping's `[[tags]]`, a dump's tags.csv or the slugs
its entries name, a peer's /api/v1/tags, the demo file) hands them to `ensure_tags`.
An existing tag is never changed: an administrator may have renamed it, and tags keep
no history to tell. A tag that cannot be stored is refused with its reason, before
anything is written, so the caller can report it or fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert

from ..extensions import db
from ..models import Tag
from ..models.vocab import TAG_GROUPS
from ..normalise import clean_text
from ..schemas.common import SLUG_PATTERN
from .errors import WriteValidationError

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
