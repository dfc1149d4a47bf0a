"""Helpers of the editors' tests: accounts of each role (the `accounts` fixture of
tests/conftest.py creates them), logging in, CSRF tokens, forms as a browser sends them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Account:
    email: str
    role: str
    password: str = PASSWORD


ACCOUNTS = {
    "admin": Account("ada@example.org", "admin"),
    "editor": Account("edith@example.org", "editor"),
    "contributor": Account("camille@example.org", "contributor"),
}


def csrf_token(client, path: str = "/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = TOKEN_RE.search(html)
    assert match, f"no CSRF token in {path}"
    return match.group(1)


def login(client, role_or_email: str, password: str = PASSWORD):
    email = ACCOUNTS[role_or_email].email if role_or_email in ACCOUNTS else role_or_email
    token = csrf_token(client)
    response = client.post("/login", data={"csrf_token": token, "email": email,
                                           "password": password})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return response


def post_form(client, path: str, data: dict[str, Any], *, token_from: str | None = None):
    """POST `data` with the CSRF token of the page at `token_from` (default: `path`)."""
    token = csrf_token(client, token_from or path)
    return client.post(path, data={"csrf_token": token, **data})


def form_pairs(html: str, form_id: str | None = None) -> list[tuple[str, str]]:
    """What a browser would send for the form `form_id` (or the whole page), as pairs:
    inputs, checked boxes, textareas and selected options."""
    from html.parser import HTMLParser

    if form_id is not None:
        start = html.index(f'id="{form_id}"')
        html = html[html.rindex("<form", 0, start):html.index("</form>", start)]
    pairs: list[tuple[str, str]] = []

    class Reader(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.textarea: str | None = None
            self.select: str | None = None
            self.buffer: list[str] = []

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            name = a.get("name")
            if tag == "input" and name:
                if a.get("type") in ("checkbox", "radio"):
                    if "checked" in a:
                        pairs.append((name, a.get("value") or "on"))
                elif a.get("type") not in ("submit", "button"):
                    pairs.append((name, a.get("value") or ""))
            elif tag == "textarea" and name:
                self.textarea, self.buffer = name, []
            elif tag == "select" and name:
                self.select = name
            elif tag == "option" and self.select and "selected" in a:
                pairs.append((self.select, a.get("value") or ""))

        def handle_endtag(self, tag):
            if tag == "textarea" and self.textarea:
                text = "".join(self.buffer)
                pairs.append((self.textarea, text[1:] if text.startswith("\n") else text))
                self.textarea = None
            elif tag == "select":
                self.select = None

        def handle_data(self, data):
            if self.textarea:
                self.buffer.append(data)

    Reader().feed(html)
    return pairs


def form_values(html: str, form_id: str | None = None) -> dict[str, str]:
    """The first value of each field of a form, by name."""
    values: dict[str, str] = {}
    for name, value in form_pairs(html, form_id):
        values.setdefault(name, value)
    return values


def replaced(pairs: list[tuple[str, str]], **changes: str) -> list[tuple[str, str]]:
    """`pairs` with the fields named in `changes` set to new values."""
    out = [(k, v) for k, v in pairs if k not in changes]
    return out + list(changes.items())


def field_error(html: str, name: str) -> str:
    """The error list shown beside field `name` (its id is `<name>-error`), as text."""
    match = re.search(rf'<ul class="field-errors" id="{re.escape(name)}-error">(.*?)</ul>',
                      html, re.S)
    assert match, f"no error shown beside {name}"
    return re.sub(r"<[^>]+>", " ", match.group(1)).strip()
