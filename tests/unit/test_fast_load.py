"""The quick load of entry input (app/schemas/fast_load.py) answers exactly as the schema:
the same data for what it accepts, the same refusals, each naming its field, for what it
does not. Pure Python: no database."""

from __future__ import annotations

import copy
import math

import pytest
from marshmallow import ValidationError

from app.schemas.entry import CopiedEntryInputSchema, EntryInputSchema
from app.schemas.fast_load import FastLoader
from app.services import entries

VALID = {
    "kind": "commons", "name": "  Lieu  commun 42 ", "summary": "Résumé, pour mesurer.",
    "description": "Une description en *Markdown*.\r\nSur deux lignes.", "lon": 3.0123456,
    "lat": 50.6123456, "street": "42 rue des Communs", "postcode": "59000", "city": "Lille",
    "country": "FR", "website": "https://example.org/42", "email": "contact@example.org",
    "phone": "03 20 00 00 42", "opening_hours": "Mo-Fr 09:00-12:00,14:00-18:00",
    "status": "active", "founded": 2002, "tags": ["tiers-lieu", "alimentation"],
    "relations": [{"type": "uses", "target": "0b0e6f3c-1111-4222-8333-944455556666"}],
    "slug": "lieu-commun-42", "licence": None, "siret": "", "insee_code": "59350",
    "wikidata": "Q42", "osm_object": "node/42", "rna": None,
}
# Wrong or borderline values, tried in every field in turn.
ODD_VALUES = [None, "", "   ", "x", "x" * 300, "x" * 20_001, 12, 0, -1, 1.5, True, [], {},
              "bad\x00text", "3.5", "2002", math.nan, math.inf, "Mo-Fr 25:00-99:00",
              "http://", "pas une adresse", "node/0", "Q0", "W123456789", "12345678901234",
              ["Tiers Lieu"], [{"type": "uses"}], [{"type": "nope", "target": "x"}],
              [{"type": "uses", "target": "x", "extra": 1}], "commons", "published",
              "a" * 121]


def bodies() -> list[dict]:
    out = [copy.deepcopy(VALID), {}, {"name": "Seul"}, {"kind": "commons", "name": "Sans lieu"}]
    for key in [*VALID, "unknown_key"]:
        for value in ODD_VALUES:
            body = copy.deepcopy(VALID)
            body[key] = copy.deepcopy(value)
            out.append(body)
        missing = copy.deepcopy(VALID)
        missing.pop(key, None)
        out.append(missing)
    out.append({**copy.deepcopy(VALID), "lat": None})  # half a position
    out.append({**copy.deepcopy(VALID), "lon": None, "lat": None})
    return out


def outcome(load, body, partial):
    try:
        result = load(copy.deepcopy(body), partial=partial)
    except ValidationError as exc:
        return ("refused", exc.messages)
    # The same values of the same types (1 == 1.0 == True in Python).
    return ("loaded", {k: (type(v).__name__, repr(v)) for k, v in result.items()},
            list(result))


@pytest.mark.parametrize(("schema_class", "partial"), [(EntryInputSchema, False),
                                                       (CopiedEntryInputSchema, True)])
def test_the_quick_load_answers_every_body_as_the_schema_does(schema_class, partial):
    schema = schema_class()
    loader = FastLoader(schema)
    assert loader.supported
    tried = bodies()
    refused = 0
    for body in tried:
        expected = outcome(schema.load, body, partial)
        assert outcome(loader.load, body, partial) == expected, body
        refused += expected[0] == "refused"
    # It was tried on both sides of the line: many bodies loaded, many refused.
    assert 100 < refused < len(tried) - 100, (refused, len(tried))


def test_the_write_service_loads_valid_input_without_the_schema_and_refuses_as_it():
    strict = entries._LOADERS[True]
    before = strict.fallbacks
    clean = entries.validate_entry(copy.deepcopy(VALID))
    assert clean.data["name"] == "Lieu  commun 42"  # stripped by the schema's pre_load
    assert strict.fallbacks == before  # the quick path took it
    with pytest.raises(entries.WriteValidationError) as refused:
        entries.validate_entry({**copy.deepcopy(VALID), "website": "pas une adresse",
                                "name": "x" * 201})
    assert strict.fallbacks == before + 1
    assert set(refused.value.messages) == {"website", "name"}
