"""The evaluation keys' pages: the assembly adds, describes, reorders and retires its keys.

Every write goes through app.services.evaluation_keys (a revision each); editors only
(`role_required`, app.services.policy.can_edit_vocabulary), CSRF on every form.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..auth.roles import role_required
from ..extensions import db
from ..http.locale import locale_code
from ..models import EvaluationKey
from ..services import evaluation_keys as service
from ..services.errors import WriteValidationError
from ..services.revisions import revisions_of
from . import bp
from .entries import author
from .messages import field_errors
from .vocabulary import LEVELS, comment_of, definitions_from_form, render_history

TEXT_FIELDS = ("slug", "label_fr", "label_en", "question_fr", "question_en",
               "description_fr", "description_en")


def _key(slug: str) -> EvaluationKey:
    key = db.session.get(EvaluationKey, slug)
    if key is None:
        abort(404)
    return key


def _values(key: EvaluationKey | None) -> dict[str, Any]:
    if key is None:
        return {name: "" for name in TEXT_FIELDS} | {"level_definitions": {}}
    return {name: getattr(key, name) or "" for name in TEXT_FIELDS} | {
        "level_definitions": key.level_definitions or {}}


def _posted() -> dict[str, Any]:
    values = {name: request.form.get(name, "") for name in TEXT_FIELDS}
    values["level_definitions"] = definitions_from_form(request.form)
    return values


def _render_form(key: EvaluationKey | None, values: dict[str, Any],
                 errors: dict[str, list[str]] | None = None,
                 status: int = 200) -> tuple[str, int]:
    return render_template("editor/key_form.html", key=key, values=values,
                           errors=errors or {}, levels=LEVELS), status


@bp.get("/editor/keys")
@role_required("editor")
def keys() -> str:
    return render_template("editor/keys.html", keys=service.all_keys())


@bp.route("/editor/keys/new", methods=["GET", "POST"])
@role_required("editor")
def new_key() -> Response | tuple[str, int]:
    if request.method == "GET":
        return _render_form(None, _values(None))
    values = _posted()
    try:
        key = service.create_key(values, author=author(), comment=comment_of(request.form))
    except WriteValidationError as exc:
        db.session.rollback()
        return _render_form(None, values, field_errors(exc.messages), 422)
    flash(_("The key “%(label)s” is added: new sheets show it.", label=key.label(locale_code())))
    return redirect(url_for("editor.keys"), 303)


@bp.route("/editor/keys/<slug>/edit", methods=["GET", "POST"])
@role_required("editor")
def edit_key(slug: str) -> Response | tuple[str, int]:
    key = _key(slug)
    if request.method == "GET":
        return _render_form(key, _values(key))
    values = _posted()
    try:
        changed = service.update_key(key, values, author=author(),
                                     comment=comment_of(request.form))
    except WriteValidationError as exc:
        db.session.rollback()
        return _render_form(key, {**values, "slug": key.slug}, field_errors(exc.messages), 422)
    flash(_("The key “%(label)s” is saved.", label=key.label(locale_code())) if changed
          else _("Nothing changed: there was nothing to save."))
    return redirect(url_for("editor.keys"), 303)


@bp.post("/editor/keys/<slug>/move")
@role_required("editor")
def move_key(slug: str) -> Response:
    key = _key(slug)
    direction = request.form.get("direction")
    if direction not in ("up", "down"):
        abort(400)
    service.move_key(key, -1 if direction == "up" else 1, author=author())
    return redirect(url_for("editor.keys", _anchor=f"key-{slug}"), 303)


@bp.post("/editor/keys/<slug>/retire")
@role_required("editor")
def retire_key(slug: str) -> Response:
    key = _key(slug)
    if service.retire_key(key, author=author(), comment=comment_of(request.form)):
        flash(_("The key “%(label)s” is retired: new sheets leave it out; the sheets that "
                "answered it keep their answers.", label=key.label(locale_code())))
    return redirect(url_for("editor.keys"), 303)


@bp.post("/editor/keys/<slug>/reinstate")
@role_required("editor")
def reinstate_key(slug: str) -> Response:
    key = _key(slug)
    if service.reinstate_key(key, author=author(), comment=comment_of(request.form)):
        flash(_("The key “%(label)s” is back in new sheets.", label=key.label(locale_code())))
    return redirect(url_for("editor.keys"), 303)


@bp.get("/editor/keys/<slug>/history")
@role_required("editor")
def key_history(slug: str) -> str:
    key = _key(slug)
    return render_history("key", key.label(locale_code()),
                          revisions_of(service.ENTITY, service.key_revision_id(key)),
                          url_for("editor.keys"))
