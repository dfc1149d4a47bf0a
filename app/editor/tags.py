"""The tags' pages: editors add, rename and describe tags; administrators merge two.

Every write goes through app.services.tags (a revision each; a merge writes each
entry it moves); roles checked by `role_required` after app.services.policy
(`can_edit_vocabulary`, `can_merge_tags`), CSRF on every form.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from ..auth.roles import role_required
from ..extensions import db
from ..http.locale import locale_code
from ..models import Tag, entry_tags
from ..models.vocab import TAG_GROUPS
from ..services import tags as service
from ..services.errors import WriteValidationError
from ..services.policy import can_merge_tags
from ..services.revisions import revisions_of
from ..web.filtering import folded
from ..web.labels import TAG_GROUP_LABELS
from . import bp
from .entries import author, me
from .messages import field_errors
from .vocabulary import comment_of, render_history

TAG_FORM_FIELDS = ("slug", "label_fr", "label_en", "group", "description_fr",
                   "description_en")


def _tag(tag_id: int) -> Tag:
    tag = db.session.get(Tag, tag_id)
    if tag is None:
        abort(404)
    return tag


def _all_tags() -> list[tuple[Tag, int]]:
    """Every tag with how many entries carry it, by label."""
    counts = dict(db.session.execute(
        select(entry_tags.c.tag_id, func.count()).group_by(entry_tags.c.tag_id)).all())
    locale = locale_code()
    tags = sorted(db.session.scalars(select(Tag)), key=lambda t: folded(t.label(locale)))
    return [(t, counts.get(t.id, 0)) for t in tags]


def _render_list(merge_values: dict[str, str] | None = None,
                 merge_errors: dict[str, list[str]] | None = None,
                 status: int = 200) -> tuple[str, int]:
    return render_template("editor/tags.html", tags=_all_tags(),
                           may_merge=can_merge_tags(me()), merge=merge_values or {},
                           tag_group_labels=TAG_GROUP_LABELS,
                           errors=merge_errors or {}), status


def _render_form(tag: Tag | None, values: dict[str, Any],
                 errors: dict[str, list[str]] | None = None,
                 status: int = 200) -> tuple[str, int]:
    return render_template("editor/tag_form.html", tag=tag, values=values,
                           errors=errors or {},
                           groups=[(g, TAG_GROUP_LABELS.get(g, g)) for g in TAG_GROUPS]), status


def _posted() -> dict[str, str]:
    return {name: request.form.get(name, "") for name in TAG_FORM_FIELDS}


@bp.get("/editor/tags")
@role_required("editor")
def tags() -> tuple[str, int]:
    return _render_list()


@bp.route("/editor/tags/new", methods=["GET", "POST"])
@role_required("editor")
def new_tag() -> Response | tuple[str, int]:
    if request.method == "GET":
        return _render_form(None, {"group": service.DEFAULT_GROUP})
    values = _posted()
    try:
        tag = service.create_tag(values, author=author(), comment=comment_of(request.form))
    except WriteValidationError as exc:
        db.session.rollback()
        return _render_form(None, values, field_errors(exc.messages), 422)
    flash(_("The tag “%(label)s” is added.", label=tag.label(locale_code())))
    return redirect(url_for("editor.tags"), 303)


@bp.route("/editor/tags/<int:tag_id>/edit", methods=["GET", "POST"])
@role_required("editor")
def edit_tag(tag_id: int) -> Response | tuple[str, int]:
    tag = _tag(tag_id)
    if request.method == "GET":
        return _render_form(tag, {name: getattr(tag, name) or "" for name in TAG_FORM_FIELDS})
    values = {**_posted(), "slug": tag.slug}
    try:
        changed = service.update_tag(tag, values, author=author(),
                                     comment=comment_of(request.form))
    except WriteValidationError as exc:
        db.session.rollback()
        return _render_form(tag, values, field_errors(exc.messages), 422)
    flash(_("The tag “%(label)s” is saved.", label=tag.label(locale_code())) if changed
          else _("Nothing changed: there was nothing to save."))
    return redirect(url_for("editor.tags"), 303)


@bp.post("/editor/tags/merge")
@role_required("admin")
def merge_tags() -> Response | tuple[str, int]:
    values = {name: request.form.get(name, "") for name in ("source", "target", "comment")}
    found = {name: db.session.get(Tag, int(values[name])) if values[name].isdigit() else None
             for name in ("source", "target")}
    errors = {name: [_("Choose a tag.")] for name, tag in found.items() if tag is None}
    if not errors:
        source, target = found["source"], found["target"]
        names = source.label(locale_code()), target.label(locale_code())
        try:
            merged = service.merge_tags(source, target, author=author(),
                                        comment=comment_of(request.form))
        except WriteValidationError as exc:
            db.session.rollback()
            errors = field_errors(exc.messages)
        else:
            flash(_("“%(source)s” is merged into “%(target)s”: %(count)s entries carried "
                    "over.", source=names[0], target=names[1], count=merged.entries))
            return redirect(url_for("editor.tags"), 303)
    return _render_list(values, errors, 422)


@bp.get("/editor/tags/<int:tag_id>/history")
@role_required("editor")
def tag_history(tag_id: int) -> str:
    tag = _tag(tag_id)
    return render_history("tag", tag.label(locale_code()),
                          revisions_of("tag", service.tag_revision_id(tag)),
                          url_for("editor.tags"))
