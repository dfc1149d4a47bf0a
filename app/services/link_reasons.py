"""Why two ids were linked: a code and its parameters, read in English or French.

A link (identity_links.reason) or a source record joined to an existing entry
(sources.linked_reason) keeps its reason as JSON, `{"code": "near", "meters": 12,
"name": "La Coroutine", "similarity": 0.74}`, never as a sentence: the command line and
the run reports say it in English (`reason_english`), the editors' pages in the reader's
language (`reason_label`), both from the one table below, and rewording either breaks
nothing stored. Reasons are made by `link_reason` (the twin rule's by
app/services/twin_rule.py `twin_reason`); a code unknown here (another instance's newer
one) reads as its code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from flask_babel import lazy_gettext as _l

LinkReason = dict[str, Any]


class Code(NamedTuple):
    params: tuple[str, ...]
    english: str     # str.format with the parameters
    label: Any       # the pages' words (lazy gettext, %-style parameters)


CODES: dict[str, Code] = {
    # The twin rule (app/services/twin_rule.py).
    "near": Code(("meters", "name", "similarity"),
                 "{meters} m from {name!r}, similar name (similarity {similarity:.2f})",
                 _l("within %(meters)s m, with a similar name (“%(name)s”)")),
    "website": Code(("name",), "same website as {name!r}",
                    _l("the same website as “%(name)s”")),
    "siret": Code(("name", "siret"), "same SIRET ({siret}) as {name!r}",
                  _l("the same SIRET (%(siret)s) as “%(name)s”")),
    # One of the record's ids is known here already (app/services/links.py).
    "known_entry": Code(("id",), "the same entry (known here as {id})",
                        _l("the same identifier (%(id)s)")),
    "known_sheet": Code(("id",), "the same sheet (known here as {id})",
                        _l("the same identifier (%(id)s)")),
    "same_source": Code(("origin", "external_id"), "the same source {origin} {external_id}",
                        _l("the same record of the source %(origin)s (%(external_id)s)")),
    "same_sheet": Code((), "the same entry, title and meeting date",
                       _l("the same entry, title and meeting date")),
    "demo_entry": Code((), "the demo entry's stable id", _l("the demo's stable identifier")),
    "demo_sheet": Code((), "the demo sheet's stable id", _l("the demo's stable identifier")),
    # A sentence recorded before reasons had codes, that migration 0023 could not read.
    "free": Code(("text",), "{text}", None),
}


def link_reason(code: str, **params: Any) -> LinkReason:
    """The reason `code` with its parameters, checked against the table."""
    known = CODES.get(code)
    if known is None:
        raise ValueError(f"unknown link reason code {code!r}")
    if set(params) != set(known.params):
        raise ValueError(f"link reason {code}: parameters {sorted(params)!r}, expected "
                         f"{list(known.params)!r}")
    return {"code": code, **params}


def _parts(reason: Mapping[str, Any] | None) -> tuple[Code | None, dict[str, Any]]:
    if not isinstance(reason, Mapping):  # a bare sentence: shown as it is
        return CODES["free"], {"text": str(reason or "")}
    params = {k: v for k, v in reason.items() if k != "code"}
    known = CODES.get(str(reason.get("code")))
    if known is not None and set(params) >= set(known.params):
        return known, params
    return None, params


def reason_english(reason: Mapping[str, Any] | None) -> str:
    """The reason for the command line and the run reports."""
    known, params = _parts(reason)
    if known is None:
        return str((reason or {}).get("code") or "")
    return known.english.format(**params)


def reason_label(reason: Mapping[str, Any] | None) -> str:
    """The reason in the reader's language (a request or app context with a locale)."""
    known, params = _parts(reason)
    if known is None or known.label is None:
        return reason_english(reason)
    return str(known.label) % params if params else str(known.label)
