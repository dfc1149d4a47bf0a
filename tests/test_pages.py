"""The HTML pages render the demo data."""

from markupsafe import escape

from tests import demo_data


def test_home_lists_the_published_entries(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="fr">' in html
    for spec in demo_data.entries():
        assert str(escape(spec["name"])) in html
