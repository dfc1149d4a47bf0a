"""An entry's page: everything we know, its neighbours both ways, its latest sheet."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from babel.dates import format_datetime
from flask import abort, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from .. import entry_fields, hours, identifiers, origins
from ..extensions import db
from ..formats.jsonld import entry_jsonld, licence_url
from ..formats.public import public_record
from ..formats.sheet_changes import sheet_record
from ..http.json import json_response
from ..http.locale import locale_code
from ..models import Entry, Evaluation
from ..query.sheets import sheets_of
from ..services.entries import find_entry
from ..services.evaluations import evaluation_keys
from ..services.policy import public_entry, shows_as_gone
from ..services.provenance import provenance_of
from . import bp
from .filtering import folded
from .labels import RELATION_SECTIONS
from .radar import RadarChart, radar_chart
from .views import map_config


@dataclass(frozen=True)
class IdentifierView:
    label: str
    value: str
    link: str


@dataclass(frozen=True)
class HoursView:
    """Opening hours for citizens: in words (None: shown as written), and now."""

    text: str | None
    raw: str
    now: hours.Now | None
    until: str | None  # the next change at the place's clock: "19:00", "lundi 09:00"

    def now_label(self) -> str | None:
        """"Ouvert maintenant · jusqu'à 19:00": the entry page's and the popup's words."""
        if self.now is None or self.now.state == "unknown":
            return None
        is_open = self.now.state == "open"
        label = _("Open now") if is_open else _("Closed now")
        if self.until:
            label += " · " + (_("until %(time)s", time=self.until) if is_open
                              else _("opens %(time)s", time=self.until))
        return label


def hours_view(entry: Entry, locale: str, at: datetime | None = None) -> HoursView | None:
    if not entry.opening_hours:
        return None
    now = hours.now_state(entry.opening_hours, entry.country, at=at)
    until = None
    if now is not None and now.until is not None:
        today = (at or datetime.now(hours.TIMEZONE)).astimezone(hours.TIMEZONE).date()
        pattern = "HH:mm" if now.until.date() == today else "EEEE HH:mm"
        until = format_datetime(now.until, pattern, tzinfo=hours.TIMEZONE, locale=locale)
    return HoursView(hours.describe(entry.opening_hours, locale), entry.opening_hours,
                     now, until)


def identifier_views(record: dict) -> list[IdentifierView]:
    labels = entry_fields.labels()
    return [IdentifierView(str(labels[field]), value, link)
            for field, value, link in identifiers.links(record)]


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


@bp.get("/entries/<ref>/opening.json")
def entry_opening(ref: str) -> Response:
    """Open or closed now and the week in words, for the map's popup (the markers file
    holds no hours, and "now" changes: kept a minute)."""
    entry = find_entry(ref)
    if entry is None or not public_entry(entry):
        abort(404)
    view = hours_view(entry, locale_code())
    body = {"state": None, "now": None, "text": None} if view is None else {
        "state": view.now.state if view.now else None, "now": view.now_label(),
        "text": view.text[:1].upper() + view.text[1:] if view.text else None}
    response = json_response(body)
    response.headers["Cache-Control"] = "public, max-age=60"
    response.vary.add("Accept-Language")
    response.vary.add("Cookie")
    return response


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
        jsonld=entry_jsonld(record, url=page_url,
                            sheets=[sheet_record(s) for s in db.session.scalars(
                                sheets_of(entry.id))],
                            key_labels={k.slug: k.label(locale) for k in evaluation_keys()}),
        licence_link=licence_url(entry.licence),
        tags=[(t.slug, t.label(locale)) for t in entry.tags],
        relations=relation_sections(entry), sources=sources, provenance=provenance,
        sheet=sheet,
        chart=sheet_chart(sheet, locale) if sheet else None, map_config=config,
        embed_src=embed_src, hours=hours_view(entry, locale),
        identifiers=identifier_views(record))
