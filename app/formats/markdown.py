"""Markdown of descriptions and sheets, rendered then sanitised: nothing active gets out.

markdown-it-py renders CommonMark with raw HTML turned off (it is shown as text);
nh3 (Ammonia) then keeps only a short list of tags and http, https and mailto
links, so that `<script>`, event handlers and `javascript:` URLs come out inert
whatever the renderer lets through. Headings move down two levels so that a
description never competes with the page's own h1 and h2.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import nh3
from markupsafe import Markup

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.rules_core import StateCore

ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "strong", "em", "code", "pre", "blockquote",
    "ul", "ol", "li", "a", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td",
})
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
HEADING_SHIFT = 2


def _shift_headings(state: StateCore) -> None:
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            level = min(int(token.tag[1]) + HEADING_SHIFT, 6)
            token.tag = f"h{level}"


@cache
def _renderer() -> MarkdownIt:
    from markdown_it import MarkdownIt  # at the first description, not at start (test_modes)

    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    md.core.ruler.push("shift_headings", _shift_headings)
    return md


def render_markdown(text: str | None) -> Markup:
    """Safe HTML for a Markdown text (empty for None)."""
    if not text:
        return Markup("")
    html = _renderer().render(text)
    clean = nh3.clean(html, tags=set(ALLOWED_TAGS), attributes=ALLOWED_ATTRIBUTES,
                      url_schemes=set(URL_SCHEMES), link_rel="nofollow noopener noreferrer")
    return Markup(clean)  # noqa: S704 (sanitised by nh3 just above)
