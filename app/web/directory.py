"""The directory (`/entries`) and an activity's list (`/tags/<slug>`): no script needed."""

from __future__ import annotations

import math

from flask import abort, render_template, request
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from ..extensions import db
from ..http.locale import locale_code
from ..models import Tag
from ..query import ParameterError, search_entries
from ..query.entries import distances_from
from . import bp
from .filtering import filter_query, form_state, near_pairs, request_filter
from .labels import SORT_LABELS
from .per_state import map_count, map_facets

PER_PAGE = 20
SORTS = ("name", "-updated", "relevance", "distance")


def _sort(has_text: bool, has_place: bool) -> str:
    """The asked order; around a place (`near`) the nearest first unless asked otherwise."""
    default = "distance" if has_place else "relevance" if has_text else "name"
    sort = request.args.get("sort") or default
    if sort not in SORTS:
        raise ParameterError("sort", f"unknown value {sort!r}; expected one of {', '.join(SORTS)}")
    if sort == "distance" and not has_place:
        raise ParameterError("sort", "distance goes with near=lon,lat")
    if sort == "relevance" and not has_text:
        sort = "name"
    return sort


def page_number() -> int:
    """The `page` argument (1 if absent), or ParameterError."""
    raw = request.args.get("page", "1")
    if not raw.isdigit() or int(raw) < 1:
        raise ParameterError("page", f"{raw!r} is not a page number (1, 2, …)")
    return int(raw)


def page_links(page: int, pages: int) -> list[int | None]:
    """The page numbers to link (None: an ellipsis): the first two, the last two and two
    on each side of `page`. A handful whatever `pages` is (the template looped over all
    of them: 800 kB of blank lines at 50,000 pages)."""
    near = (1, 2, *range(page - 2, page + 3), pages - 1, pages)
    links: list[int | None] = []
    last = 0
    for p in sorted({p for p in near if 1 <= p <= pages}):
        if p > last + 1:
            links.append(None)
        links.append(p)
        last = p
    return links


def _listing(template_args: dict, args: MultiDict | None = None, **forced: object) -> str:
    f = request_filter(args, **forced)
    sort, page = _sort(bool(f.text), f.near is not None), page_number()
    total = map_count(f)  # the total and facets: counted once per data state, as the map's
    pages = max(1, math.ceil(total / PER_PAGE))
    if page > pages:
        abort(404)
    entries = search_entries(f, sort=sort, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    form = form_state(f, map_facets(f), locale_code())
    sorts = [(s, SORT_LABELS[s]) for s in SORTS
             if (s != "relevance" or f.text) and (s != "distance" or f.near)]
    place = near_pairs(f)
    metres = distances_from(f.near, [e.id for e in entries]) if f.near else {}
    return render_template(
        "web/directory.html", entries=entries, total=total, page=page, pages=pages,
        page_links=page_links(page, pages),
        first=(page - 1) * PER_PAGE + 1, sort=sort, sorts=sorts, form=form,
        place=place, distances=metres,
        page_query=lambda p: filter_query(f, located=form.located, **dict(place),
                                          sort=request.args.get("sort", ""),
                                          page=str(p) if p > 1 else ""),
        **template_args)


@bp.get("/entries")
def directory() -> str:
    return _listing({"tag": None})


@bp.get("/tags/<slug>")
def tag_page(slug: str) -> str:
    tag = db.session.scalar(select(Tag).where(Tag.slug == slug))
    if tag is None:
        abort(404)
    args = MultiDict([(k, v) for k, v in request.args.items(multi=True) if k != "tag"])
    return _listing({"tag": tag}, args, tags=(tag.slug,))

