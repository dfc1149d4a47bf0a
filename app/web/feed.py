"""An Atom feed (RFC 4287) of the entries changed last, for people and their feed readers.

`/feed.atom` takes the filters of every output (kind, tag, bbox, q, near…, parsed by
app.query.parse_filter): a territory's box, a kind or a tag gives its own feed. Each
Atom entry is an entry of the atlas at its latest change: its id is `urn:uuid:` and
the entry's UUID (stable across renames, and the same on every instance that mirrors
it), `updated` its last change, a link to its page, its kind and tags as categories
and its position as a GeoRSS point. ElementTree writes the XML, so every text is
escaped; the description is sent as escaped HTML (`type="html"`) from the same
sanitised Markdown as the entry's page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from flask import Response, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from ..formats.markdown import render_markdown
from ..identity import identity
from ..licences import data_licence
from ..models import Entry
from ..query import search_entries
from . import bp
from .filtering import filter_query, request_filter
from .labels import KIND_LABELS

ATOM = "http://www.w3.org/2005/Atom"
GEORSS = "http://www.georss.org/georss"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
FEED_SIZE = 50
MEDIA_TYPE = "application/atom+xml; charset=utf-8"

ET.register_namespace("", ATOM)
ET.register_namespace("georss", GEORSS)


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        node.text = text
    return node


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _entry(feed: ET.Element, entry: Entry) -> None:
    node = _el(feed, "entry")
    _el(node, "id", f"urn:uuid:{entry.id}")
    _el(node, "title", entry.name, type="text")
    _el(node, "link", rel="alternate", type="text/html",
        href=url_for("web.entry_page", ref=entry.slug, _external=True))
    _el(node, "updated", _time(entry.updated_at))
    _el(node, "published", _time(entry.created_at))
    scheme = url_for("web.directory", _external=True)
    _el(node, "category", term=entry.kind, label=str(KIND_LABELS[entry.kind]),
        scheme=f"{scheme}?kind=")
    for tag in entry.tags:
        _el(node, "category", term=tag.slug, label=tag.label_fr, scheme=f"{scheme}?tag=")
    if entry.summary:
        _el(node, "summary", entry.summary, type="text")
    if entry.description:
        _el(node, "content", str(render_markdown(entry.description)), type="html")
    if entry.geom is not None:
        from geoalchemy2.shape import to_shape

        point = to_shape(entry.geom)
        ET.SubElement(node, f"{{{GEORSS}}}point").text = f"{point.y} {point.x}"


@bp.get("/feed.atom")
def atom_feed() -> Response:
    """The FEED_SIZE entries changed last among those the filter selects, newest first."""
    f = request_filter()
    entries = search_entries(f, sort="-updated", limit=FEED_SIZE)
    site = identity()
    query = filter_query(f, bbox=",".join(f"{v:g}" for v in f.bbox) if f.bbox else "")
    self_url = url_for("web.atom_feed", _external=True) + (f"?{query}" if query else "")
    language = str(get_locale() or "fr")
    feed = ET.Element(f"{{{ATOM}}}feed", {XML_LANG: language})
    _el(feed, "id", self_url)
    title = _("%(site)s: recent changes", site=site.site_name)
    _el(feed, "title", title, type="text")
    _el(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _el(feed, "link", rel="alternate", type="text/html",
        href=url_for("web.directory", _external=True) + (f"?{query}" if query else ""))
    newest = max((e.updated_at for e in entries), default=datetime.now(UTC))
    _el(feed, "updated", _time(newest))
    author = _el(feed, "author")
    _el(author, "name", site.publisher)
    if site.publisher_url:
        _el(author, "uri", site.publisher_url)
    _el(feed, "rights", data_licence(), type="text")
    _el(feed, "generator", "Atlas des communs")
    for entry in entries:
        _entry(feed, entry)
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    response = Response(body, content_type=MEDIA_TYPE)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
