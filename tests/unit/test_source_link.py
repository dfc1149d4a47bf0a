"""The AGPL asks a network service to offer its source: the footer of the pages links to
ATLAS_SOURCE_URL, and says nothing false when it is unset."""

from __future__ import annotations

from app import create_app
from app.config import to_sqlalchemy_url

SOURCE = "https://git.example.org/atlas/atlas-des-communs"


def _footer(database_url: str, **config) -> str:
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                      "SQLALCHEMY_DATABASE_URI": to_sqlalchemy_url(database_url), **config})
    html = app.test_client().get("/entries?lang=fr").get_data(as_text=True)
    return html[html.index('<footer class="site-footer">'):html.index("</footer>")]


def test_the_footer_links_to_the_configured_source(database_url):
    footer = _footer(database_url, SOURCE_URL=SOURCE)
    assert f'<a href="{SOURCE}">Code source</a>' in footer


def test_without_a_source_url_the_footer_has_no_empty_link(database_url):
    footer = _footer(database_url, SOURCE_URL=None)
    assert "Code source" not in footer and 'href=""' not in footer
