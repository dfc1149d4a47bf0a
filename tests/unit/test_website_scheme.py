"""A website typed without a scheme (`www.…`) is taken as https://, the same for every writer."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError
from sqlalchemy import select

from app.extensions import db
from app.models import Entry
from app.schemas import EntryInputSchema
from tests.support.editor import post_form


@pytest.mark.parametrize("typed, stored", [
    ("www.repair-cafe.org", "https://www.repair-cafe.org"),
    ("  epicerie-solidaire.fr/contact ", "https://epicerie-solidaire.fr/contact"),
    ("http://old.example.org", "http://old.example.org"),
    ("HTTPS://Example.org", "HTTPS://Example.org"),
])
def test_the_input_schema_adds_https_to_a_bare_address(typed, stored):
    data = EntryInputSchema().load({"name": "Lieu", "kind": "initiative", "website": typed})
    assert data["website"] == stored


@pytest.mark.parametrize("typed", ["ftp://files.example.org", "not a website", "www"])
def test_what_is_not_a_web_address_is_still_refused(typed):
    with pytest.raises(ValidationError) as caught:
        EntryInputSchema().load({"name": "Lieu", "kind": "initiative", "website": typed})
    assert "website" in caught.value.messages


def test_the_suggest_form_accepts_www(client):
    response = post_form(client, "/suggest", {
        "name": "Atelier vélo des Bois-Blancs", "kind": "initiative",
        "website": "www.atelier-velo-bb.org", "lat": "", "lon": ""})
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    entry = db.session.scalar(select(Entry).where(Entry.name == "Atelier vélo des Bois-Blancs"))
    assert entry.website == "https://www.atelier-velo-bb.org"


def test_the_api_stores_the_same(client, accounts):
    from app.services.tokens import create_token

    token = create_token(accounts["editor"], "script")[0]
    response = client.post("/api/v1/entries", headers={"Authorization": f"Bearer {token}"},
                           json={"name": "Ressourcerie du Faubourg", "kind": "initiative",
                                 "website": "www.ressourcerie-faubourg.fr"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["website"] == "https://www.ressourcerie-faubourg.fr"
