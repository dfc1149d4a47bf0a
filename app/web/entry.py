"""An entry's page: everything we know, its neighbours both ways, its latest sheet."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import abort, redirect, render_template, url_for
from werkzeug.wrappers import Response

from .. import origins
from ..extensions import db
from ..formats.jsonld import entry_jsonld, licence_url
from ..formats.public import public_record
from ..http.locale import locale_code
from ..models import Entry, Evaluation
from ..query.sheets import sheets_of
from ..services.entries import find_entry
from ..services.policy import public_entry, shows_as_gone
from ..services.provenance import provenance_of
from . import bp
from .filtering import folded
from .labels import RELATION_SECTIONS
from .radar import RadarChart, radar_chart
from .views import map_config


@dataclass(frozen=True)
class SourceView:
    label: str
    external_id: str
    link: str | None
    licence: str | None


def relation_sections(entry: Entry) -> list[tuple[str, list[Entry]]]:
    """Related published entries grouped by how they relate, in the page's order."""
    found: dict[tuple[str, str], list[Entry]] = {}
    for rel in entry.relations_out:
        found.setdefault(("out", rel.type), []).append(rel.target)
    for rel in entry.relations_in:
        found.setdefault(("in", rel.type), []).append(rel.source)
    sections = []
    for (direction, type_), title in RELATION_SECTIONS:
        directions = ("out", "in") if direction == "both" else (direction,)
        seen: dict[uuid.UUID, Entry] = {}
        for d in directions:
            for other in found.get((d, type_), []):
                if public_entry(other):
                    seen.setdefault(other.id, other)
        if seen:
            sections.append((str(title), sorted(seen.values(), key=lambda e: folded(e.name))))
    return sections


def latest_sheet(entry: Entry) -> Evaluation | None:
    return db.session.scalar(sheets_of(entry.id).limit(1))


def sheet_chart(sheet: Evaluation, locale: str) -> RadarChart:
    answers = sorted(sheet.answers, key=lambda a: a.position)
    return radar_chart([(a.key_slug, a.key.label(locale), a.level) for a in answers])


@bp.get("/entries/<ref>")
def entry_page(ref: str) -> str | Response:
    entry = find_entry(ref)
    if entry is None or not public_entry(entry):
        abort(410 if entry is not None and shows_as_gone(None, entry) else 404)
    if ref != entry.slug:  # a UUID: the page lives at its slug
        return redirect(url_for("web.entry_page", ref=entry.slug), 301)

    locale = locale_code()
    record = public_record(entry)
    page_url = url_for("web.entry_page", ref=entry.slug, _external=True)
    sheet = latest_sheet(entry)
    sources = [SourceView(origins.label(s.origin), s.external_id,
                          origins.record_link(s.origin, s.external_id),
                          origins.licence_shown(s.origin, s.licence)) for s in entry.sources]
    # Each field's source, where sources of their own fed the entry (not only ours).
    provenance = provenance_of(entry) if sources else []
    if not any(p.origin and not origins.is_ours(p.origin) for p in provenance):
        provenance = []
    config = None
    embed_src = None
    if entry.lonlat:
        lon, lat = entry.lonlat
        config = map_config("single", entry={"lon": lon, "lat": lat, "name": entry.name,
                                             "kind": entry.kind})
        embed_src = f"{url_for('web.embed', _external=True)}#map=16/{lat:.5f}/{lon:.5f}"
    return render_template(
        "web/entry.html", entry=entry, record=record, page_url=page_url,
        jsonld=entry_jsonld(record, url=page_url), licence_link=licence_url(entry.licence),
        tags=[(t.slug, t.label(locale)) for t in entry.tags],
        relations=relation_sections(entry), sources=sources, provenance=provenance,
        sheet=sheet,
        chart=sheet_chart(sheet, locale) if sheet else None, map_config=config,
        embed_src=embed_src,
        hours=[rule.strip() for rule in (entry.opening_hours or "").split(";") if rule.strip()])
