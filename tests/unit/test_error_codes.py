"""Service errors carry a stable code: the forms translate by code, the API gives it.

The English wording of a message is the services' (and the API's) to change; a form
in French must not depend on it (app.editor.messages translates by code).
"""

from __future__ import annotations

import pickle
import re

import pytest
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from app.editor.messages import BY_CODE, translate
from app.schemas import EntryInputSchema, EvaluationInputSchema
from app.services.entries import get_entry
from app.services.errors import ErrorMessage, WriteValidationError, coded
from app.services.proposals import reject
from app.services.tokens import create_token
from tests.support.editor import field_error, form_pairs, login, replaced

BAD_ENTRY = {"name": "", "kind": "castle", "slug": "Not A Slug", "summary": "x" * 501,
             "description": "x" * 20_001, "lon": 200, "lat": None, "country": "france",
             "website": "ftp://nowhere", "email": "nobody", "phone": "call me",
             "founded": 99, "tags": ["Bad Tag"], "relations": [{"type": "likes"}],
             "status": "asleep", "surprise": 1}
BAD_SHEET = {"title": "", "held_on": "someday", "state": "final",
             "answers": {"governance": {"level": 9, "strengths": "x" * 20_001}}}


def flat(messages):
    if isinstance(messages, dict):
        for value in messages.values():
            yield from flat(value)
    elif isinstance(messages, list):
        for value in messages:
            yield from flat(value)
    else:
        yield messages


@pytest.mark.parametrize("schema, data", [(EntryInputSchema, BAD_ENTRY),
                                          (EvaluationInputSchema, BAD_SHEET)])
def test_every_message_of_the_input_schemas_has_a_code_the_forms_translate(schema, data):
    with pytest.raises(ValidationError) as caught:
        schema().load(data)
    messages = list(flat(caught.value.messages))
    assert len(messages) >= 5
    untranslated = [(str(m), getattr(m, "code", None)) for m in messages
                    if getattr(m, "code", None) not in BY_CODE]
    assert untranslated == []


REWORDED = [
    (coded("slug_taken", "This slug is already used by another entry."),
     coded("slug_taken", "Another entry has this slug already; pick another one.")),
    (coded("length_between", "Between {min} and {max} characters.", min=1, max=200),
     coded("length_between", "Give {min} to {max} characters.", min=1, max=200)),
    (coded("unknown_tag", "Unknown tag {value!r}.", value="zz"),
     coded("unknown_tag", "There is no tag called {value}.", value="zz")),
]


@pytest.mark.parametrize("original, reworded", REWORDED, ids=lambda m: m.code)
def test_rewording_a_service_message_keeps_its_french_form_message(app, original, reworded):
    with app.test_request_context("/?lang=fr"):
        french = translate(original)
        assert french != str(original)  # translated, not the English
        assert translate(reworded) == french


def test_a_message_keeps_its_code_through_pickling_and_formatting():
    """Importers validate in other processes: their errors come back pickled."""
    message = coded("length_between", "Between {min} and {max} characters.")
    filled = message.format(input="x" * 900, min=1, max=200)
    again = pickle.loads(pickle.dumps(WriteValidationError({"name": [filled]}).messages))
    kept = again["name"][0]
    assert isinstance(kept, ErrorMessage) and str(kept) == "Between 1 and 200 characters."
    assert (kept.code, kept.params) == ("length_between", {"min": 1, "max": 200})


def test_the_api_names_each_problem_by_code_and_params(client, accounts):
    token = create_token(accounts["editor"], "codes")[0]
    entry = get_entry("mutualab")
    response = client.patch(f"/api/v1/entries/{entry.id}",
                            json={"email": "nobody", "summary": "x" * 501,
                                  "tags": ["no-such-tag"]},
                            headers={"Authorization": f"Bearer {token}",
                                     "If-Match": f'"v{entry.version}"'})
    assert response.status_code == 422
    params = {p["name"]: p for p in response.get_json()["invalid-params"]}
    assert (params["email"]["code"], params["email"]["params"]) == ("invalid_email", {})
    assert params["summary"]["code"] == "length_between"
    assert params["summary"]["params"] == {"min": 0, "max": 500}
    assert params["summary"]["reason"] == "Between 0 and 500 characters."


def test_the_french_form_shows_the_message_of_the_code(client, accounts):
    """A taken address and an unknown relation target, in French, from their codes."""
    login(client, "editor")
    entry = get_entry("mutualab")
    page = client.get(f"/editor/entries/{entry.id}/edit?lang=fr").get_data(as_text=True)
    base = form_pairs(page, "entry-form")
    url = f"/editor/entries/{entry.id}/edit?lang=fr"
    taken_page = client.post(url, data=MultiDict(replaced(base, slug="la-coroutine")))
    unknown_page = client.post(url, data=MultiDict(replaced(
        base, **{"relations-9-target": "nulle-part", "relations-9-type": "uses"})))
    assert (taken_page.status_code, unknown_page.status_code) == (422, 422)
    with client.application.test_request_context("/?lang=fr"):
        taken = translate(coded("slug_taken", "any wording"))
        missing = translate(coded("no_such_entry", "any {value}", value="nulle-part"))
    assert "adresse" in taken
    assert field_error(taken_page.get_data(as_text=True), "slug") == taken
    html = unknown_page.get_data(as_text=True)
    row = next(name for name, value in re.findall(
        r'name="(relations-\d+)-target" value="([^"]*)"', html) if value == "nulle-part")
    assert "nulle-part" in missing and missing in field_error(html, row)


def test_the_review_form_says_in_french_why_a_rejection_needs_a_reason(app, session,
                                                                        accounts):
    with pytest.raises(WriteValidationError) as caught:
        from app.services.proposals import propose_entry
        from app.services.revisions import Author

        proposal = propose_entry({"name": "Atelier sans raison", "kind": "initiative"},
                                 author=Author(user=accounts["contributor"]))
        reject(proposal, reviewer=accounts["editor"], comment=" ")
    message = caught.value.messages["review_comment"][0]
    assert message.code == "reason_needed"
    with app.test_request_context("/?lang=fr"):
        assert translate(message) != str(message)
