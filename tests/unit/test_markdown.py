"""Markdown from entries and sheets renders, and nothing active survives it."""

from html.parser import HTMLParser

import pytest

from app.formats.markdown import render_markdown


class Tags(HTMLParser):
    """The real tags and attributes of some HTML (escaped text is not a tag)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


@pytest.mark.parametrize("text", [
    "Hello <script>alert('x')</script> world",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<a href="javascript:alert(1)">raw link</a>',
    "<iframe src='https://evil.example'></iframe>",
    '<p onclick="alert(1)">paragraph</p>',
    "[ref]\n\n[ref]: javascript:alert(1)",
    "![x](javascript:alert(1))",
    "<svg onload=alert(1)>",
    "<style>body{display:none}</style>",
])
def test_active_content_renders_inert(text):
    tags = Tags(str(render_markdown(text))).tags
    assert tags, "something is rendered"
    for tag, attrs in tags:
        assert tag in {"p", "a", "strong", "em", "code", "br"}, tag
        assert not [name for name in attrs if name.startswith("on")]
        for name in ("href", "src"):
            if name in attrs:
                assert attrs[name].startswith(("http://", "https://", "mailto:")), attrs[name]


def test_markdown_renders_what_editors_write():
    html = str(render_markdown(
        "# Title\n\nSome **bold** and *em*.\n\n- one\n- two\n\n"
        "[site](https://example.org) and [mail](mailto:a@example.org)"))
    assert "<strong>bold</strong>" in html and "<em>em</em>" in html
    assert "<li>one</li>" in html
    assert '<a href="https://example.org" rel="nofollow noopener noreferrer">site</a>' in html
    assert 'href="mailto:a@example.org"' in html
    # A description's heading never competes with the page's h1/h2.
    assert "<h3>Title</h3>" in html and "<h1" not in html


def test_raw_html_is_shown_as_text_not_dropped_silently():
    html = str(render_markdown("a <b>b</b>"))
    assert "&lt;b&gt;b&lt;/b&gt;" in html


def test_empty_text():
    assert str(render_markdown(None)) == "" and str(render_markdown("")) == ""


def test_an_entry_page_renders_a_hostile_description_inert(client, session):
    from app.services.entries import create_entry
    from app.services.revisions import Author

    entry = create_entry({
        "kind": "initiative", "name": "Hostile text",
        "description": "<script>window.pwned=1</script> [x](javascript:alert(1)) **ok**",
    }, author=Author(label="test"))
    html = client.get(f"/entries/{entry.slug}").get_data(as_text=True)
    description = html.split('<div class="prose">')[1].split("</div>")[0]
    assert "<strong>ok</strong>" in description
    assert "<script" not in description and "javascript:" not in description.replace(
        "[x](javascript:alert(1))", "")
