"""Identifiers of other registers and opening hours: the checks, the words, the formats.

Pure functions and the input schemas (no database): the SIRET's Luhn key and La Poste's
exception, RNA, Wikidata and OpenStreetMap ids; real OpenStreetMap opening_hours values,
accepted or refused as the parser says, read aloud in French and English.
"""

from __future__ import annotations

from datetime import datetime

import opening_hours
import pytest
from marshmallow import ValidationError

from app import hours, identifiers
from app.formats.jsonld import entry_jsonld
from app.schemas.entry import CopiedEntryInputSchema, EntryInputSchema

# -- identifiers --------------------------------------------------------------------------------

# Real SIRETs, as published in the SIRENE register.
VALID_SIRETS = (
    "13002526500013",  # DINUM (direction interministérielle du numérique)
    "13003013300016",  # data·inclusion's example (GIP Plateforme de l'inclusion)
    "43493312300029",  # the médiation numérique schema's example
    "35600000000048",  # La Poste, head office: the Luhn key
    "35600000049837",  # a post office: La Poste's sum of digits by 5, not Luhn
)


@pytest.mark.parametrize("siret", VALID_SIRETS)
def test_real_sirets_are_accepted(siret):
    assert identifiers.clean("siret", siret) == siret


def test_a_siret_is_tidied_then_its_key_checked():
    assert identifiers.clean("siret", "130 025 265 00013") == "13002526500013"
    assert identifiers.clean("siret", "130\u00a0025\u00a0265\u00a000013") == "13002526500013"
    assert identifiers.luhn_ok("35600000049837") is False  # only La Poste's rule takes it
    for wrong, code in (("13002526500014", "siret_key"),   # last digit changed
                        ("12345678900012", "siret_key"),
                        ("35600000049838", "siret_key"),   # La Poste, sum not by 5
                        ("1300252650001", "siret_format"),  # 13 digits
                        ("1300252650001A", "siret_format")):
        with pytest.raises(ValueError) as caught:
            identifiers.clean("siret", wrong)
        message = caught.value.args[0]
        assert message.code == code and message.startswith("SIRET"), wrong


def test_rna_wikidata_and_osm_objects():
    assert identifiers.clean("rna", "w595012345") == "W595012345"
    for wrong in ("W59501234", "W5950123456", "595012345", "WA95012345"):
        with pytest.raises(ValueError, match=r"^RNA"):
            identifiers.clean("rna", wrong)
    assert identifiers.clean("wikidata", "q648") == "Q648"
    assert identifiers.clean("wikidata", "https://www.wikidata.org/wiki/Q648") == "Q648"
    for wrong in ("Q0648", "648", "P31", "Q"):
        with pytest.raises(ValueError, match=r"^Wikidata"):
            identifiers.clean("wikidata", wrong)
    assert identifiers.clean("osm_object", "node/123") == "node/123"
    assert identifiers.clean("osm_object", "https://www.openstreetmap.org/way/4#map=1") == "way/4"
    assert identifiers.clean("osm_object", "r9") == "relation/9"
    for wrong in ("node/0", "area/12", "node/", "123"):
        with pytest.raises(ValueError, match=r"^OpenStreetMap"):
            identifiers.clean("osm_object", wrong)


def test_the_input_schema_names_the_field_of_a_wrong_identifier():
    base = {"kind": "initiative", "name": "Une association"}
    loaded = EntryInputSchema().load({**base, "siret": "130 025 265 00013", "rna": "",
                                      "wikidata": "Q648", "osm_object": "node/1"})
    assert (loaded["siret"], loaded["rna"]) == ("13002526500013", None)
    with pytest.raises(ValidationError) as caught:
        EntryInputSchema().load({**base, "siret": "13002526500014", "rna": "X1"})
    errors = caught.value.messages
    assert set(errors) == {"siret", "rna"}
    assert errors["siret"][0].code == "siret_key"


def test_jsonld_identifiers_and_same_as_keep_the_website_as_url():
    record = {"id": "0b7a2d4e-0000-4000-8000-000000000001", "kind": "third_place",
              "name": "X", "website": "https://x.example", "siret": "13002526500013",
              "rna": "W595012345", "wikidata": "Q648", "osm_object": "node/123",
              "lon": 3.0, "lat": 50.6, "tags": [], "opening_hours": "We 14:00-19:00; PH off"}
    doc = entry_jsonld(record, url="https://atlas.example/entries/x")
    assert doc["@id"] == "https://atlas.example/entries/x"
    assert doc["url"] == "https://x.example"
    assert doc["sameAs"] == ["https://www.wikidata.org/wiki/Q648",
                             "https://www.openstreetmap.org/node/123"]
    assert {"@type": "PropertyValue", "propertyID": "SIRET",
            "value": "13002526500013"} in doc["identifier"]
    assert {"@type": "PropertyValue", "propertyID": "RNA",
            "value": "W595012345"} in doc["identifier"]
    assert doc["openingHoursSpecification"] == [{
        "@type": "OpeningHoursSpecification", "dayOfWeek": ["https://schema.org/Wednesday"],
        "opens": "14:00", "closes": "19:00"}]


# -- opening hours ------------------------------------------------------------------------------

# Real values of OpenStreetMap's opening_hours tag: (value, French, English); None when
# the parser refuses it.
REAL_HOURS = (
    ("Mo-Fr 09:00-12:00,14:00-18:00",
     "du lundi au vendredi de 9 h à 12 h et de 14 h à 18 h",
     "Monday to Friday from 9:00 to 12:00 and from 14:00 to 18:00"),
    ("PH off", "fermé les jours fériés", "closed on public holidays"),
    ("24/7", "ouvert 24 h sur 24, 7 jours sur 7", "open 24/7"),
    ("We 14:00-19:00; PH off", "mercredi de 14 h à 19 h ; fermé les jours fériés",
     "Wednesday from 14:00 to 19:00; closed on public holidays"),
    ("Mo-Sa 10:00-19:00; Su off", "du lundi au samedi de 10 h à 19 h ; fermé le dimanche",
     "Monday to Saturday from 10:00 to 19:00; closed on Sundays"),
    ("Mo,We,Fr 09:00-12:00", "lundi, mercredi et vendredi de 9 h à 12 h",
     "Monday, Wednesday and Friday from 9:00 to 12:00"),
    ('Tu-Fr 08:30-12:30; Sa 09:00-13:00 "sur rendez-vous"',
     "du mardi au vendredi de 8 h 30 à 12 h 30 ; samedi de 9 h à 13 h (« sur rendez-vous »)",
     "Tuesday to Friday from 8:30 to 12:30; Saturday from 9:00 to 13:00 (“sur rendez-vous”)"),
    ("Mo-Fr 08:00-18:00; Sa 09:00-12:00; Su,PH off",
     "du lundi au vendredi de 8 h à 18 h ; samedi de 9 h à 12 h ; "
     "fermé le dimanche et les jours fériés",
     "Monday to Friday from 8:00 to 18:00; Saturday from 9:00 to 12:00; "
     "closed on Sundays and on public holidays"),
    ("sunrise-sunset", "sunrise-sunset", "sunrise-sunset"),  # valid, shown as written
    ("Mo-Fr 9h-18h", None, None),
    ("lundi 10:00-12:00", None, None),
)


@pytest.mark.parametrize(("value", "french", "english"), REAL_HOURS)
def test_real_opening_hours_as_the_parser_says_in_plain_words(value, french, english):
    accepted = opening_hours.validate(value)
    assert (hours.problem(value) is None) == accepted
    assert accepted == (french is not None)
    assert hours.describe(value, "fr") == french
    assert hours.describe(value, "en") == english


def test_refused_hours_carry_the_parsers_message_in_forms_not_in_imports():
    base = {"kind": "initiative", "name": "Un lieu"}
    with pytest.raises(ValidationError) as caught:
        EntryInputSchema().load({**base, "opening_hours": "Mo-Fr 9h-18h"})
    message = caught.value.messages["opening_hours"][0]
    assert message.code == "opening_hours_syntax"
    assert message.params["column"] == 7 and "expected" in message.params["detail"]
    assert str(message).startswith("Opening hours: not valid OpenStreetMap syntax")
    # What imports, sync and restores load keeps the text.
    kept = CopiedEntryInputSchema().load({**base, "opening_hours": "Mo-Fr 9h-18h"})
    assert kept["opening_hours"] == "Mo-Fr 9h-18h"


def test_the_weekly_table_is_one_form_for_every_format():
    week = hours.week(hours.try_parse("Mo-Fr 08:00-18:00; Sa 09:00-12:00; Su,PH off"))
    assert week == {**{d: (("08:00", "18:00"),) for d in ("Mo", "Tu", "We", "Th", "Fr")},
                    "Sa": (("09:00", "12:00"),)}
    assert hours.week(hours.try_parse("PH 10:00-12:00")) is None  # holiday hours: no table
    assert hours.week(hours.try_parse("Jul-Aug Mo-Fr 10:00-12:00")) is None
    assert hours.opening_hours_specification("24/7")[0]["closes"] == "23:59"
    from app.exports.gogocarto import open_hours

    assert open_hours("We 14:00-19:00; PH off") == {"We": "14:00-19:00"}
    assert open_hours("Mo-Fr 9h-18h") is None


def test_open_now_at_the_clock_of_paris_with_french_holidays():
    value = "We 14:00-19:00; PH off"
    wednesday = datetime(2026, 12, 2, 15, 0, tzinfo=hours.TIMEZONE)
    now = hours.now_state(value, "FR", at=wednesday)
    assert now.state == "open" and now.until.hour == 19
    # 13:00 UTC in winter is 14:00 in Paris: just open.
    assert hours.now_state(value, "FR", at=datetime.fromisoformat(
        "2026-12-02T13:00:00+00:00")).state == "open"
    assert hours.now_state(value, "FR", at=datetime(2026, 12, 2, 13, 59,
                                                    tzinfo=hours.TIMEZONE)).state == "closed"
    # 14 July 2027 is a Wednesday and a public holiday in France.
    assert hours.now_state(value, "FR", at=datetime(2027, 7, 14, 15, 0,
                                                    tzinfo=hours.TIMEZONE)).state == "closed"
    assert hours.now_state("Mo-Fr 9h-18h") is None
    # A country the parser has no holiday calendar for: the week still answers.
    assert hours.now_state(value, "ZZ", at=wednesday).state == "open"
