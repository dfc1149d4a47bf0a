"""Evaluation sheets to read: one sheet (printable on A4), an entry's sheets over the years
compared two by two, and every commons compared on one key.

The public sees published sheets of published entries; editors also see drafts
(app.services.policy).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from ..extensions import db
from ..http.locale import locale_code
from ..models import Answer, Entry, Evaluation, EvaluationKey
from ..models.vocab import LEVEL_MAX
from ..query.sheets import newest_first, published_sheet_conditions, sheets_of
from ..services.entries import find_entry
from ..services.policy import is_editor, public_entry, visible_sheets_clause
from . import bp
from .entry import sheet_chart
from .evolution import evolution
from .filtering import folded


def _entry(ref: str) -> Entry:
    """A public entry; editors also read the sheets of one that waits (app.services.policy)."""
    entry = find_entry(ref)
    if entry is None or not (public_entry(entry)
                             or (is_editor(current_user) and entry.deleted_at is None)):
        abort(404)
    return entry


def _sheets(entry: Entry) -> list[Evaluation]:
    """The sheets the reader may see: published ones, and drafts for editors."""
    return list(db.session.scalars(sheets_of(entry.id, drafts=True)
                                   .where(visible_sheets_clause(current_user))))


def _sheet(entry: Entry, sheet_id: uuid.UUID) -> Evaluation:
    sheet = next((s for s in _sheets(entry) if s.id == sheet_id), None)
    if sheet is None:
        abort(404)
    return sheet


@bp.get("/entries/<ref>/sheets")
def entry_sheets(ref: str) -> str | Response:
    entry = _entry(ref)
    if ref != entry.slug:
        return redirect(url_for("web.entry_sheets", ref=entry.slug), 301)
    sheets = _sheets(entry)
    keys = list(db.session.scalars(select(EvaluationKey).order_by(EvaluationKey.position)))
    evo = evolution(sheets, keys, locale_code()) if len(sheets) > 1 else None
    return render_template("web/sheets.html", entry=entry, sheets=sheets, evo=evo,
                           editor=is_editor(current_user))


@bp.get("/entries/<ref>/sheets/<uuid:sheet_id>")
def sheet_page(ref: str, sheet_id: uuid.UUID) -> str:
    """One sheet on its own page, laid out for printing on A4 (static/css/print.css)."""
    entry = _entry(ref)
    sheet = _sheet(entry, sheet_id)
    return render_template("web/sheet.html", entry=entry, sheet=sheet,
                           chart=sheet_chart(sheet, locale_code()))


@dataclass(frozen=True)
class KeyRow:
    key: EvaluationKey
    a: Answer | None
    b: Answer | None

    @property
    def delta(self) -> int | None:
        if self.a is None or self.b is None or self.a.level is None or self.b.level is None:
            return None
        return self.b.level - self.a.level


@bp.get("/entries/<ref>/sheets/compare")
def compare_sheets(ref: str) -> str:
    """Two sheets of one entry side by side (older first): how the commons evolved."""
    entry = _entry(ref)
    sheets = _sheets(entry)
    if len(sheets) < 2:
        return render_template("web/sheet_compare.html", entry=entry, sheets=sheets, a=None,
                               b=None, rows=[])
    by_id = {str(s.id): s for s in sheets}
    a = by_id.get(request.args.get("a", "")) or sheets[1]
    b = by_id.get(request.args.get("b", "")) or sheets[0]
    if (a.held_on, a.created_at) > (b.held_on, b.created_at):
        a, b = b, a
    keys = db.session.scalars(select(EvaluationKey).order_by(EvaluationKey.position)).all()
    rows = [KeyRow(k, a.answer(k.slug), b.answer(k.slug)) for k in keys
            if a.answer(k.slug) or b.answer(k.slug)]
    locale = locale_code()
    return render_template("web/sheet_compare.html", entry=entry, sheets=sheets, a=a, b=b,
                           rows=rows, chart_a=sheet_chart(a, locale),
                           chart_b=sheet_chart(b, locale))


@dataclass(frozen=True)
class KeyAnswer:
    entry: Entry
    sheet: Evaluation
    answer: Answer | None


@bp.get("/keys/<slug>")
def key_page(slug: str) -> str:
    """Every commons on one key: the latest published sheet of each, its level and texts."""
    key = db.session.get(EvaluationKey, slug)
    if key is None:
        abort(404)
    rank = func.row_number().over(partition_by=Evaluation.entry_id,
                                  order_by=newest_first()).label("rank")
    ranked = (select(Evaluation.id, rank)
              .join(Entry, Entry.id == Evaluation.entry_id)
              .where(*published_sheet_conditions(),
                     Entry.moderation == "published", Entry.deleted_at.is_(None))
              .subquery())
    latest = select(ranked.c.id).where(ranked.c.rank == 1)
    sheets = db.session.scalars(select(Evaluation).where(Evaluation.id.in_(latest))).all()
    rows = [KeyAnswer(s.entry, s, s.answer(slug)) for s in sheets]
    rows.sort(key=lambda r: (-(r.answer.level if r.answer and r.answer.level is not None
                               else -1), folded(r.entry.name)))
    keys = db.session.scalars(select(EvaluationKey).order_by(EvaluationKey.position)).all()
    return render_template("web/key_compare.html", key=key, keys=keys, rows=rows,
                           max_level=LEVEL_MAX)
