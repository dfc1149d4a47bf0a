"""The HTML pages render the demo data."""

import re

from markupsafe import escape

from tests import demo_data


def test_home_is_the_map_in_french(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="fr">' in html
    assert 'id="map"' in html and "vendor/leaflet/leaflet.js" in html
    assert "Rechercher" in html and "Annuaire" in html


def test_the_directory_lists_every_published_entry(client):
    html = client.get("/entries").get_data(as_text=True)
    pages = int(re.search(r"page 1 sur (\d+)", html).group(1))
    for page in range(2, pages + 1):
        html += client.get(f"/entries?page={page}").get_data(as_text=True)
    for spec in demo_data.entries():
        assert str(escape(spec["name"])) in html


def test_the_demo_note_shows_only_while_the_demo_is_served(app, client):
    note = "Les positions des données de démonstration sont approximatives."
    assert note not in client.get("/entries").get_data(as_text=True)
    app.config["DEMO_DATA"] = True
    try:
        assert note in client.get("/entries").get_data(as_text=True)
    finally:
        app.config["DEMO_DATA"] = False
