"""Every consumer of entry fields follows the registry (app/entry_fields.py).

The main test adds a throwaway field to the registry in a fresh interpreter, before
anything else imports it, then asks each consumer whether it picked the field up:
a consumer that went back to a hand-written list leaves it out and is named.
"""

from __future__ import annotations

import json
import subprocess
import sys

from app import entry_fields
from app.config import PROJECT_ROOT

PROBE = "zz_probe"

# Run in a process of its own: the consumers read the registry once, at import.
PROBE_SCRIPT = r'''
import json, re, sys
from flask_babel import lazy_gettext as _l
from app import entry_fields as R

PROBE = "zz_probe"
R.FIELDS = (*R.FIELDS, R.EntryField(
    PROBE, _l("Probe"), "A throwaway field.", max_length=50, long_text=True,
    form=R.FormSpec("contact", 99)))

from app import create_app
# Nothing here reaches the database: the address only has to be given.
app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "x",
                  "DATABASE_URL": "postgresql://probe@127.0.0.1:9/probe"})
found = {}
with app.test_request_context("/"):
    from flask import render_template
    from sqlalchemy.dialects import postgresql
    from werkzeug.datastructures import MultiDict
    from app.models import Entry
    from app.schemas import EntryInputSchema
    from app.services import entries as service
    from app.formats import public, geojson
    from app.api import schemas as api_schemas, writes
    from app.editor import forms, labels, diff
    from app.sync import content, push
    from app.exports import tables
    from app.ogc.openapi import openapi_document
    from app import restore as dump
    from importers import mapping
    from app.models.vocab import RELATION_TYPES

    found["model column"] = PROBE in Entry.__table__.c
    found["input schema"] = PROBE in EntryInputSchema().fields
    found["write service fields"] = PROBE in service.ENTRY_FIELDS
    found["snapshot keys"] = PROBE in service.CONTENT_KEYS
    found["public fields"] = PROBE in public.PUBLIC_FIELDS
    found["public columns"] = PROBE in [c.name for c in public.public_columns()]
    found["public record"] = public.public_record(Entry(**{PROBE: "x"}, tags=[])).get(PROBE) == "x"
    found["stored feature SQL"] = f"'{PROBE}', entries.{PROBE}" in "".join(
        geojson.feature_functions_sql())
    found["API entry schema"] = PROBE in api_schemas.EntrySchema().fields
    found["API properties schema"] = PROBE in api_schemas.PropertiesSchema().fields
    found["API write schema"] = PROBE in writes.EntryWriteSchema().fields
    found["API PUT clears"] = PROBE in writes.CLEARED_BY_PUT
    doc = app.test_client().get("/api/openapi.json").get_json()["components"]["schemas"]
    found["API OpenAPI"] = all(PROBE in doc[name]["properties"]
                               for name in ("Entry", "EntryProperties", "EntryInput"))
    found["API OpenAPI description"] = (
        doc["Entry"]["properties"][PROBE].get("description") == "A throwaway field.")
    ogc = openapi_document()["components"]["schemas"]
    found["OGC OpenAPI"] = PROBE in ogc["EntryProperties"]["properties"]
    found["editor form fields"] = PROBE in forms.ENTRY_TEXT_FIELDS
    found["editor form reads it"] = forms.read_entry_form(
        MultiDict({PROBE: "posted"}), editor=False)[0].get(PROBE) == "posted"
    found["editor labels"] = str(labels.FIELD_LABELS.get(PROBE)) == "Probe"
    found["editor history diff"] = PROBE in diff.LONG_TEXT
    html = render_template(
        "editor/entry_form.html", entry=None, editor=False,
        form=forms.EntryForm(values={**dict.fromkeys(forms.ENTRY_TEXT_FIELDS, ""),
                                     "lon": "", "lat": "", PROBE: "shown"}),
        tag_groups=[], relation_types=RELATION_TYPES, location_config={}, conflict=None,
        proposal=None, own_proposal=None, sheets=[])
    found["editor form page"] = bool(re.search(
        rf'<input type="text" id="{PROBE}" name="{PROBE}" value="shown"', html))
    found["sync content"] = PROBE in content.SCALARS and PROBE in content.MERGE_FIELDS
    found["sync push body"] = PROBE in push.BODY_FIELDS
    found["dump restore"] = dump.entry_from_cells(
        {"id": "0" * 8 + "-0000-4000-8000-" + "0" * 12, PROBE: "x"}, 2).data.get(PROBE) == "x"
    found["CSV mapping targets"] = PROBE in mapping.CSV_FIELDS
    found["export columns"] = PROBE in tables.ENTRIES.header
    found["export Table Schema"] = PROBE in [f["name"] for f in tables.ENTRIES.schema()["fields"]]
    found["export query"] = PROBE in str(tables.entries_query(
        __import__("app.query.filters", fromlist=["EntryFilter"]).EntryFilter(), "x").compile(
            dialect=postgresql.dialect()))
print(json.dumps(found))
'''


def probe_consumers() -> dict[str, bool]:
    out = subprocess.run([sys.executable, "-c", PROBE_SCRIPT], cwd=PROJECT_ROOT,
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_consumer_picks_up_a_new_field() -> None:
    found = probe_consumers()
    assert len(found) >= 25
    missed = sorted(name for name, ok in found.items() if not ok)
    assert not missed, f"consumers that ignore the registry: {missed}"


def test_consumers_follow_todays_registry() -> None:
    from app.exports.tables import ENTRY_COLUMNS
    from app.formats.public import SCALAR_FIELDS
    from app.models import Entry
    from app.services.entries import ENTRY_FIELDS
    from app.sync.content import SCALARS

    names = entry_fields.names()
    assert names == ENTRY_FIELDS
    assert SCALAR_FIELDS == SCALARS == tuple(f.name for f in entry_fields.FIELDS if f.public)
    assert "moderation" in names and "moderation" not in SCALAR_FIELDS
    for f in entry_fields.FIELDS:
        column = Entry.__table__.c[f.name]
        assert column.nullable == f.nullable, f.name
        assert getattr(column.type, "length", None) == f.max_length, f.name
        if f.public:
            assert ENTRY_COLUMNS[f.name].type == f.table_type()


def test_a_broken_registry_is_refused() -> None:
    field = entry_fields.by_name()["summary"]
    try:
        entry_fields.check((*entry_fields.FIELDS, field))
    except RuntimeError as exc:
        assert "listed twice" in str(exc)
    else:
        raise AssertionError("a field listed twice was accepted")
    hidden = entry_fields.EntryField("hidden", "Hidden", "Not on the form.")
    try:
        entry_fields.check((hidden,))
    except RuntimeError as exc:
        assert "form" in str(exc)
    else:
        raise AssertionError("an editor-written field without a form was accepted")
