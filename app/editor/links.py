"""Links an editor can see and undo.

An entry's "Links and sources" page shows the other instances' ids it is linked to
(when, and why: the same identifier, the same website, within 50 m with a similar
name) and the sources that feed it, field by field. An editor may undo a twin link
(the one `unlink` of app/sync/unlink.py, as `flask sync unlink` does) or detach a
source (app/services/source_detach.py). `/editor/links` lists recent links, newest
first, to review after a big mirror or import. Editors and admins only, checked here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select, text
from werkzeug.wrappers import Response

from .. import origins
from ..auth.roles import role_required
from ..extensions import db
from ..models import Evaluation, IdentityLink, RegisteredSource, Source
from ..services.link_reasons import reason_label
from ..services.provenance import provenance_of
from ..services.revisions import Author
from ..services.source_detach import detach_source, exclusions_of, reattach
from . import bp
from .access import entry_or_404
from .entries import me

PER_PAGE = 50

RECENT_SQL = text("""
SELECT x.kind, x.entity_type, x.ref, x.entity_id, x.origin, x.reason, x.at,
       coalesce(e.name, se.name) AS entry_name, coalesce(e.id, se.id) AS entry_id,
       s.title AS sheet_title
FROM (
    SELECT 'alias' AS kind, l.entity_type, l.alias_id::text AS ref, l.entity_id, l.origin,
           l.reason, l.created_at AS at
    FROM identity_links l
    UNION ALL
    SELECT 'source', 'entry', s.external_id, s.entry_id, s.origin, s.linked_reason,
           s.first_seen_at
    FROM sources s WHERE s.linked_reason IS NOT NULL
) x
LEFT JOIN entries e ON x.entity_type = 'entry' AND e.id = x.entity_id
LEFT JOIN evaluations s ON x.entity_type = 'evaluation' AND s.id = x.entity_id
LEFT JOIN entries se ON se.id = s.entry_id
ORDER BY x.at DESC, x.ref
LIMIT :limit OFFSET :offset
""")
COUNT_SQL = text("SELECT (SELECT count(*) FROM identity_links) + "
                 "(SELECT count(*) FROM sources WHERE linked_reason IS NOT NULL)")


@dataclass
class TwinLink:
    row: IdentityLink
    origin_label: str
    reason: str
    remote_url: str | None  # the other instance's page of it, when known
    parts: bool  # undoing makes an entry (or sheet) of the other id again
    sheet_title: str | None = None


@dataclass
class SourceGroup:
    origin: str
    label: str
    registered: RegisteredSource | None
    records: list[Source] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)


def _twin_link(row: IdentityLink, sheet_title: str | None = None) -> TwinLink:
    if row.entity_type == "entry":
        source = db.session.scalar(select(Source).where(
            Source.external_id == str(row.alias_id), Source.entry_id == row.entity_id))
        attrs = source.attributes if source is not None else {}
        parts = "remote" in attrs or "body" in attrs
    else:
        from ..models import SheetSource

        sheet_source = db.session.scalar(select(SheetSource).where(
            SheetSource.external_id == str(row.alias_id),
            SheetSource.evaluation_id == row.entity_id))
        attrs = sheet_source.attributes if sheet_source is not None else {}
        parts = "remote" in attrs
    url = attrs.get("url") if isinstance(attrs, dict) else None
    remote_url = f"{url}/entries/{row.alias_id}" if url and row.entity_type == "entry" \
        else None
    return TwinLink(row, origins.label(row.origin) if row.origin != "api" else _("the API"),
                    reason_label(row.reason), remote_url, parts, sheet_title)


def _source_groups(entry_id: uuid.UUID, provenance: list[Any]) -> list[SourceGroup]:
    groups: dict[str, SourceGroup] = {}
    registered = {r.origin: r for r in db.session.scalars(select(RegisteredSource))}
    for source in db.session.scalars(select(Source).where(Source.entry_id == entry_id)
                                     .order_by(Source.first_seen_at, Source.id)):
        group = groups.get(source.origin)
        if group is None:
            group = groups[source.origin] = SourceGroup(
                source.origin, origins.label(source.origin), registered.get(source.origin))
        group.records.append(source)
    for item in provenance:
        if item.origin in groups:
            groups[item.origin].fields.append(item.label)
    return list(groups.values())


@bp.get("/editor/entries/<uuid:entry_id>/links")
@role_required("editor")
def entry_links(entry_id: uuid.UUID) -> str:
    entry = entry_or_404(entry_id)
    links = [_twin_link(row) for row in db.session.scalars(
        select(IdentityLink).where(IdentityLink.entity_type == "entry",
                                   IdentityLink.entity_id == entry.id)
        .order_by(IdentityLink.created_at.desc(), IdentityLink.id.desc()))]
    sheet_links = [_twin_link(row, title) for row, title in db.session.execute(
        select(IdentityLink, Evaluation.title)
        .join(Evaluation, Evaluation.id == IdentityLink.entity_id)
        .where(IdentityLink.entity_type == "evaluation", Evaluation.entry_id == entry.id)
        .order_by(IdentityLink.created_at.desc(), IdentityLink.id.desc()))]
    provenance = provenance_of(entry)
    return render_template("editor/entry_links.html", entry=entry, links=links,
                           sheet_links=sheet_links, provenance=provenance,
                           groups=_source_groups(entry.id, provenance),
                           exclusions=exclusions_of(entry.id), origin_label=origins.label,
                           reason_text=reason_label)


def _confirmed() -> bool:
    return request.form.get("confirm") == "yes"


@bp.post("/editor/links/<uuid:alias_id>/unlink")
@role_required("editor")
def unlink_view(alias_id: uuid.UUID) -> Response:
    """Undo a twin link, as `flask sync unlink` does (one function, app/sync/unlink.py)."""
    from ..sync.unlink import unlink

    row = db.session.scalar(select(IdentityLink).where(IdentityLink.alias_id == alias_id))
    if row is None:
        abort(404)
    back = (url_for("editor.recent_links") if request.form.get("back") == "list" else
            _entry_page_of(row))
    if not _confirmed():
        flash(_("Nothing was undone: tick the box to confirm."), "error")
        return redirect(back, 303)
    kind, _local, made = unlink(alias_id, author=Author(user=me()))
    if made is not None and kind == "entry":
        flash(_("The link is undone: %(id)s is a separate entry again, made from what its "
                "instance sent last.", id=alias_id))
    elif made is not None:
        flash(_("The link is undone: %(id)s is a separate sheet again, made from what its "
                "instance sent last.", id=alias_id))
    else:
        flash(_("The link is undone: %(id)s no longer stands for this one.", id=alias_id))
    return redirect(back, 303)


def _entry_page_of(row: IdentityLink) -> str:
    entry_id = row.entity_id if row.entity_type == "entry" else db.session.scalar(
        select(Evaluation.entry_id).where(Evaluation.id == row.entity_id))
    if entry_id is None:
        return url_for("editor.recent_links")
    return url_for("editor.entry_links", entry_id=entry_id)


@bp.post("/editor/entries/<uuid:entry_id>/sources/detach")
@role_required("editor")
def detach_source_view(entry_id: uuid.UUID) -> Response:
    entry = entry_or_404(entry_id)
    back = url_for("editor.entry_links", entry_id=entry.id)
    origin = request.form.get("origin", "")
    if not _confirmed():
        flash(_("Nothing was detached: tick the box to confirm."), "error")
        return redirect(back, 303)
    try:
        detached = detach_source(entry, origin, user=me())
    except LookupError:
        abort(404)
    flash(_("“%(source)s” is detached: its next runs neither update this entry nor create "
            "it again. The entry's values are unchanged.",
            source=origins.label(detached.origin)))
    return redirect(back, 303)


@bp.post("/editor/entries/<uuid:entry_id>/sources/reattach")
@role_required("editor")
def reattach_source_view(entry_id: uuid.UUID) -> Response:
    entry = entry_or_404(entry_id)
    raw = request.form.get("exclusion", "")
    if not raw.isdigit():
        abort(400)
    try:
        row = reattach(int(raw), entry.id)
    except LookupError:
        abort(404)
    flash(_("“%(source)s” may feed entries again: its next run meets this record as a new "
            "one.", source=origins.label(row.origin)))
    return redirect(url_for("editor.entry_links", entry_id=entry.id), 303)


@dataclass(frozen=True)
class RecentLink:
    kind: str  # alias (a pull, a push, the demo) or source (an import's twin)
    entity_type: str
    ref: str
    origin_label: str
    reason: str
    at: datetime
    entry_id: uuid.UUID | None
    entry_name: str | None
    sheet_title: str | None


@bp.get("/editor/links")
@role_required("editor")
def recent_links() -> str:
    raw = request.args.get("page", "1")
    page = int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1
    total = db.session.scalar(COUNT_SQL) or 0
    labels: dict[str, str] = {}
    rows = []
    for r in db.session.execute(RECENT_SQL, {"limit": PER_PAGE,
                                             "offset": (page - 1) * PER_PAGE}):
        if r.origin not in labels:
            labels[r.origin] = (str(_("the API")) if r.origin == "api"
                                else origins.label(r.origin))
        rows.append(RecentLink(r.kind, r.entity_type, r.ref, labels[r.origin],
                               reason_label(r.reason), r.at, r.entry_id, r.entry_name,
                               r.sheet_title))
    pages = max(1, -(-total // PER_PAGE))
    return render_template("editor/links.html", links=rows, page=page, pages=pages,
                           total=total)

