"""The editors' page of evaluation sheets: the drafts still being written, and the sheets
saved lately, whatever their entry (where a meeting finds the sheet it left)."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from ..auth.roles import role_required
from ..extensions import db
from ..models import Entry, Evaluation
from . import bp

RECENT = 20


def _sheets(*conditions: object, limit: int) -> list[Evaluation]:
    return list(db.session.scalars(
        select(Evaluation).join(Evaluation.entry).options(contains_eager(Evaluation.entry))
        .where(Evaluation.deleted_at.is_(None), Entry.deleted_at.is_(None), *conditions)
        .order_by(Evaluation.updated_at.desc(), Evaluation.id).limit(limit)))


@bp.get("/editor/sheets")
@role_required("editor")
def sheets() -> str:
    return render_template("editor/sheets.html",
                           drafts=_sheets(Evaluation.state == "draft", limit=200),
                           recent=_sheets(Evaluation.state != "draft", limit=RECENT))
