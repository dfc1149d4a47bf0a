"""The entry-field registry: every plain field of an entry, described once.

Adding a field to an entry is one `EntryField` line here plus a migration (the
column; and, for a public field, the stored features' functions regenerated from
`app.formats.geojson.feature_functions_sql`). Everything else derives its list
from `FIELDS`: the model's columns, the input schema, the write service, the
public record (API, GeoJSON, CSV and data package, in this order), the API's
output schemas and PUT, the editor's form and labels, the CSV importer's targets,
the dump restore, and sync pull and push. tests/unit/test_entry_fields.py adds a
field to this list and checks that each of them follows.

Outside the registry stay the three structured parts of an entry, whose shape no
plain column has: the position (`lon`, `lat`; the `geom` column), the tags and the
relations; and the bookkeeping columns (id, times, version, deletion).

One name per field across the formats: the column, the input key, the public
record's key, the GeoJSON property and the CSV column are all `name`.
Formats with a vocabulary of their own (JSON-LD, GoGoCarto, the MedNum schema)
map the fields they know in their own module.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate
from sqlalchemy import SmallInteger, String, Text
from sqlalchemy.types import TypeEngine

from .services.errors import ErrorMessage, coded

Writer = Literal["editor", "contributor", "importer", "sync"]
# Editors and administrators (forms, API); contributors (forms, API: proposals);
# importers (CSV/OSM mappings); sync and dump restore (another instance's public record).
WRITERS: tuple[Writer, ...] = ("editor", "contributor", "importer", "sync")
EVERYONE = frozenset(WRITERS)

MAX_DESCRIPTION = 20_000
PHONE_RE = re.compile(r"^\+?[0-9 ().\-/]{4,40}$")
SLUG_PATTERN = "[a-z0-9]+(-[a-z0-9]+)*"


@dataclass(frozen=True)
class FormSpec:
    """Where and how the editor's entry form shows a field (templates/editor/entry_form.html).

    `section` is one of the form's fieldsets (FORM_SECTIONS); fields sharing a `row`
    stand side by side. `widget` is input, textarea or select (a select's options
    are the field's `choices`, labelled by `choice_labels`).
    """

    section: str
    order: int
    widget: Literal["input", "textarea", "select"] = "input"
    input_type: str = "text"
    hint: Any = None  # a lazy string
    attrs: str = ""
    row: str | None = None
    rows: int = 4  # textarea height
    preview: bool = False  # textarea: Markdown preview


@dataclass(frozen=True)
class EntryField:
    """One plain field of an entry; see the module docstring for who reads what."""

    name: str
    label: Any  # a lazy string (French through the catalogue)
    description: str  # English: API (OpenAPI) and data-package documentation
    type: Literal["text", "integer"] = "text"
    max_length: int | None = None  # text: the column's length; None for unbounded text
    required: bool = False  # refused when missing or blank
    default: str | None = None  # given when a writer leaves it out
    generated: bool = False  # made by the write service when left out (never stored null)
    # The allowed values: the name of a vocabulary of app.models.vocab (read when used,
    # so that the model, which derives its columns from here, can import this module).
    vocabulary: str | None = None
    # The form's option labels: "module:NAME" of a dict value -> label (read when used).
    choice_labels: str | None = None
    unique: bool = False
    pattern: str | None = None  # the Table Schema's description of the allowed text
    public: bool = True  # in the public record (API, GeoJSON, CSV, exports, sync)
    writers: frozenset[str] = EVERYONE
    # False for the instance's own bookkeeping (page address, moderation): a PUT that
    # leaves it out keeps the stored value instead of clearing it.
    content: bool = True
    long_text: bool = False  # the history shows an inline diff of its old and new text
    form: FormSpec | None = None
    # The input schema's field, when the generic one (text of max_length, integer,
    # choice) is not enough; the registry's description is added to it.
    input: Callable[[], fields.Field] | None = None
    # A rule for people's input only (forms, API): its message when a value breaks it.
    # Programs that copy data from elsewhere (imports, sync, dump restore) keep such a
    # value as text, and imports report it on the row (opening hours the parser refuses).
    strict_check: Callable[[str], ErrorMessage | None] | None = None

    @property
    def choices(self) -> tuple[str, ...] | None:
        if self.vocabulary is None:
            return None
        from .models import vocab

        return getattr(vocab, self.vocabulary)

    @property
    def nullable(self) -> bool:
        return not self.required and self.default is None and not self.generated

    def sql_type(self) -> TypeEngine:
        if self.type == "integer":
            return SmallInteger()
        return String(self.max_length) if self.max_length else Text()

    def input_field(self, *, strict: bool = True) -> fields.Field:
        """The marshmallow field of the input schema (forms, API, imports, sync);
        `strict` adds `strict_check` (people's input)."""
        field = self.input() if self.input else self._generic_input()
        field.metadata.setdefault("description", self.description)
        if strict and self.strict_check is not None:
            field.validators.append(_refuse_when(self.strict_check))
        return field

    def _generic_input(self) -> fields.Field:
        if self.choices:
            if self.default is not None:
                return fields.String(load_default=self.default,
                                     validate=validate.OneOf(self.choices))
            return fields.String(required=self.required, allow_none=not self.required,
                                 validate=validate.OneOf(self.choices))
        if self.type == "integer":
            return fields.Integer(allow_none=True, strict=False)
        from .schemas.common import text

        return text(self.max_length or MAX_DESCRIPTION, required=self.required)

    def output_field(self) -> fields.Field:
        """The marshmallow field of the API's answers (documentation)."""
        kw: dict[str, Any] = {"metadata": {"description": self.description}}
        if self.nullable:
            kw["allow_none"] = True
        else:
            kw["required"] = True
        if self.choices:
            kw["validate"] = validate.OneOf(self.choices)
        return fields.Integer(**kw) if self.type == "integer" else fields.String(**kw)

    def options(self) -> list[tuple[str, Any]]:
        """The form's (value, label) options of a choice field, in `choice_labels` order."""
        module, _, attribute = (self.choice_labels or "").partition(":")
        return list(getattr(importlib.import_module(module), attribute).items())

    def table_type(self) -> str:
        """Frictionless Table Schema type."""
        return "integer" if self.type == "integer" else "string"

    def table_constraints(self) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        if not self.nullable:
            out["required"] = True
        if self.unique:
            out["unique"] = True
        if self.pattern:
            out["pattern"] = self.pattern
        if self.choices:
            out["enum"] = list(self.choices)
        return out or None

    def from_cell(self, cell: str | None) -> Any:
        """A CSV cell (our exports' text) as an input value; ValueError if it is not one."""
        if cell in (None, ""):
            return None
        return int(cell) if self.type == "integer" else cell


# -- special input fields ---------------------------------------------------------------------

def _slug_input() -> fields.Field:
    from .schemas.common import slug_field

    return slug_field(allow_none=True)


def _founded_year(value: int | None) -> None:
    if value is not None and not 1000 <= value <= date.today().year + 5:
        raise ValidationError(coded("year_range", "A year between {min} and {max}.",
                                    min=1000, max=date.today().year + 5))


def _refuse_when(rule: Callable[[str], ErrorMessage | None]) -> Callable[[Any], None]:
    def validator(value: Any) -> None:
        message = rule(value) if isinstance(value, str) else None
        if message is not None:
            raise ValidationError(message)
    return validator


def _hours_problem(value: str) -> ErrorMessage | None:
    from .hours import problem

    return problem(value)


class _IdentifierField(fields.String):
    """An identifier of another register (app/identifiers.py): tidied, then checked."""

    def __init__(self, kind: str, **kwargs: Any) -> None:
        super().__init__(allow_none=True, **kwargs)
        self.kind = kind

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str | None:
        from . import identifiers

        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return identifiers.clean(self.kind, text)
        except ValueError as exc:
            raise ValidationError(exc.args[0]) from None


def _identifier(kind: str) -> Callable[[], fields.Field]:
    return lambda: _IdentifierField(kind)


def _regexp(pattern: str | re.Pattern[str], error: ErrorMessage) -> Callable[[], fields.Field]:
    return lambda: fields.String(allow_none=True, validate=validate.Regexp(pattern, error=error))


# A host name and what may follow it, typed without a scheme: "www.example.org/contact".
BARE_HOST_RE = re.compile(r"^[\w-]+(\.[\w-]+)+(:\d+)?([/?#]\S*)?$", re.UNICODE)


def with_scheme(value: str) -> str:
    """`www.example.org` as `https://www.example.org`; anything else as it was typed
    (stripped), for the URL check to judge."""
    value = value.strip()
    return f"https://{value}" if BARE_HOST_RE.match(value) else value


class WebsiteField(fields.Url):
    """An http(s) URL, accepting an address typed without its scheme (people type
    `www.…`): forms, the API, imports and sync all load websites through it."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            value = with_scheme(value)
        return super()._deserialize(value, attr, data, **kwargs)


_WHAT, _WHERE, _CONTACT, _IDS = "what", "where", "contact", "identifiers"
# The form's fieldsets (their legends and the map are the template's).
FORM_SECTIONS = (_WHAT, _WHERE, _CONTACT, _IDS)
# Table Schema patterns are whole-value (no anchors); the input rule anchors its own.
INSEE_PATTERN = r"([013-9]\d|2[AB1-9])\d{3}"

# Every field, in the public record's order (the API's, GeoJSON's and CSV's).
FIELDS: tuple[EntryField, ...] = (
    EntryField("slug", _l("Address of the page (slug)"),
               "Unique; the entry's page is /entries/<slug>.",
               max_length=120, unique=True, pattern=SLUG_PATTERN, generated=True,
               writers=frozenset({"editor", "importer", "sync"}), content=False,
               input=_slug_input,
               form=FormSpec(_WHAT, 80, row="editor", hint=_l(
                   "Leave empty for a new entry: it is made from the name."))),
    EntryField("kind", _l("Kind"), "commons, third_place or initiative.",
               max_length=20, required=True, vocabulary="ENTRY_KINDS",
               choice_labels="app.web.labels:KIND_LABELS",
               form=FormSpec(_WHAT, 20, widget="select")),
    EntryField("name", _l("Name"), "Name.", max_length=200, required=True,
               form=FormSpec(_WHAT, 10)),
    EntryField("summary", _l("Summary"), "One or two sentences.", max_length=500,
               long_text=True,
               form=FormSpec(_WHAT, 30, hint=_l("One or two sentences, shown in the lists."))),
    EntryField("description", _l("Description"), "Markdown.", long_text=True,
               input=lambda: fields.String(allow_none=True, validate=validate.Length(
                   max=MAX_DESCRIPTION, error=coded("too_long", "At most {max} characters."))),
               form=FormSpec(_WHAT, 40, widget="textarea", rows=8, preview=True, hint=_l(
                   "Markdown: **bold**, *italics*, lists with -, links [text](https://…)."))),
    EntryField("status", _l("Status"), "active, planned or closed.",
               max_length=20, default="active", vocabulary="ENTRY_STATUSES",
               choice_labels="app.web.labels:STATUS_LABELS",
               form=FormSpec(_WHAT, 50, widget="select", row="status")),
    EntryField("street", _l("Street"), "Street address.", max_length=200,
               form=FormSpec(_WHERE, 10, attrs='autocomplete="off"')),
    EntryField("postcode", _l("Postcode"), "Postal code.", max_length=20,
               form=FormSpec(_WHERE, 20, row="town")),
    EntryField("city", _l("City"), "City.", max_length=120,
               form=FormSpec(_WHERE, 30, row="town")),
    EntryField("country", _l("Country"), "ISO 3166-1 alpha-2 code.", max_length=2,
               input=_regexp(r"^[A-Z]{2}$", coded(
                   "country_code", "Use a two-letter ISO 3166-1 code such as FR.")),
               form=FormSpec(_WHERE, 40, row="town", hint=_l("Two letters, such as FR"))),
    EntryField("insee_code", _l("INSEE code of the commune"),
               "The commune's official INSEE code (Code officiel géographique), such as 75056.",
               max_length=5, pattern=INSEE_PATTERN,
               # Public, so sync carries it too (another instance's public record).
               writers=frozenset({"editor", "importer", "sync"}),
               input=_regexp(f"^{INSEE_PATTERN}$", coded(
                   "insee_code_format", "INSEE code: five characters such as 59350 or "
                   "2A004.")),
               form=FormSpec(_WHERE, 45, row="town", attrs='inputmode="numeric"', hint=_l(
                   "Filled from the postcode and city when left empty"))),
    EntryField("website", _l("Website"),
               "http(s) URL; one without a scheme (www.example.org) is taken as https://.",
               max_length=500,
               input=lambda: WebsiteField(allow_none=True, schemes={"http", "https"},
                                          require_tld=True, validate=validate.Length(max=500)),
               form=FormSpec(_CONTACT, 10, input_type="url",
                             hint=_l("Such as https://example.org or www.example.org"))),
    EntryField("email", _l("Email"), "The entry's public contact e-mail.", max_length=254,
               input=lambda: fields.Email(allow_none=True, validate=validate.Length(max=254)),
               form=FormSpec(_CONTACT, 20, input_type="email", row="reach")),
    EntryField("phone", _l("Phone"), "The entry's public contact phone.", max_length=40,
               input=_regexp(PHONE_RE, coded("phone_format",
                                             "Use digits, spaces and + ( ) . - only.")),
               form=FormSpec(_CONTACT, 30, input_type="tel", row="reach")),
    EntryField("opening_hours", _l("Opening hours"), "OpenStreetMap opening_hours syntax.",
               max_length=500, long_text=True, strict_check=_hours_problem,
               form=FormSpec(_CONTACT, 40, hint=_l(
                   "OpenStreetMap syntax, such as Mo-Fr 09:00-18:00; Sa 10:00-16:00"))),
    EntryField("licence", _l("Licence"),
               "Licence of the commons itself (SPDX id where one fits).", max_length=100,
               form=FormSpec(_CONTACT, 50, hint=_l(
                   "For a commons: its licence, such as CC-BY-SA-4.0 or AGPL-3.0-or-later"))),
    EntryField("founded", _l("Founded (year)"), "Year founded.", type="integer",
               input=lambda: fields.Integer(allow_none=True, strict=False,
                                            validate=_founded_year),
               form=FormSpec(_WHAT, 60, row="status", attrs='inputmode="numeric"')),
    EntryField("siret", _l("SIRET"), "SIRET number (14 digits, Luhn key checked) of the "
               "establishment, in the SIRENE register.", max_length=14, pattern=r"\d{14}",
               input=_identifier("siret"),
               form=FormSpec(_IDS, 10, row="registers", attrs='inputmode="numeric"',
                             hint=_l("14 digits; see annuaire-entreprises.data.gouv.fr"))),
    EntryField("rna", _l("RNA number"), "Number of the association in the Répertoire "
               "national des associations (W and 9 digits).", max_length=10,
               pattern=r"W\d{9}", input=_identifier("rna"),
               form=FormSpec(_IDS, 20, row="registers", hint=_l("W and 9 digits"))),
    EntryField("wikidata", _l("Wikidata item"), "Wikidata item id (Q and digits).",
               max_length=20, pattern=r"Q[1-9]\d*", input=_identifier("wikidata"),
               form=FormSpec(_IDS, 30, row="web-ids", hint=_l("Such as Q90"))),
    EntryField("osm_object", _l("OpenStreetMap object"),
               "OpenStreetMap object: node/<id>, way/<id> or relation/<id>.", max_length=40,
               pattern=r"(node|way|relation)/[1-9]\d*", input=_identifier("osm_object"),
               form=FormSpec(_IDS, 40, row="web-ids", hint=_l("Such as node/123456"))),
    EntryField("moderation", _l("Moderation"),
               "published, pending or rejected: only published entries are public.",
               max_length=20, default="published", vocabulary="MODERATION_STATES",
               choice_labels="app.editor.labels:MODERATION_LABELS", public=False,
               writers=frozenset({"editor"}), content=False,
               form=FormSpec(_WHAT, 70, widget="select", row="editor")),
)


def check(registry: Iterable[EntryField]) -> None:
    """Refuse a registry that its consumers could not follow (a developer error)."""
    names: set[str] = set()
    for f in registry:
        if f.name in names:
            raise RuntimeError(f"entry field {f.name!r} is listed twice")
        names.add(f.name)
        if "sync" in f.writers and not f.public:
            raise RuntimeError(f"entry field {f.name!r}: sync reads the public record, so a "
                               "field it writes must be public")
        if "editor" in f.writers and f.form is None:
            raise RuntimeError(f"entry field {f.name!r}: editors write it, so the form needs "
                               "it (FormSpec); a form without it would clear it")
        if f.form is not None and f.form.section not in FORM_SECTIONS:
            raise RuntimeError(f"entry field {f.name!r}: unknown form section")
        if f.form and f.form.widget == "select" and not (f.vocabulary and f.choice_labels):
            raise RuntimeError(f"entry field {f.name!r}: a select needs choice_labels")


check(FIELDS)


# -- the lists consumers derive -----------------------------------------------------------------
# Consumers call these once, at import: tests/unit/test_entry_fields.py adds a field to
# FIELDS before importing them, in a process of its own, and checks that each follows.

def names(registry: Iterable[EntryField] | None = None) -> tuple[str, ...]:
    """Every field, in registry order: what the write service stores and snapshots."""
    return tuple(f.name for f in (FIELDS if registry is None else registry))


def public_names() -> tuple[str, ...]:
    """The public record's plain fields, in output order."""
    return tuple(f.name for f in FIELDS if f.public)


def writable_by(writer: str) -> tuple[str, ...]:
    return tuple(f.name for f in FIELDS if writer in f.writers)


def by_name() -> dict[str, EntryField]:
    return {f.name: f for f in FIELDS}


def labels() -> dict[str, Any]:
    return {f.name: f.label for f in FIELDS}
