"""A single OGC item in JSON answers from one statement, with the general path's ETag and body."""

import orjson

from app.extensions import db
from app.query import EntryFilter, search_entries
from tests.support.statements import statements_sent


def statements(app, client, url, **headers):
    with app.app_context():
        engine = db.engine
    with statements_sent(engine) as seen:
        response = client.get(url, headers=headers)
    return response, len(seen)


def an_entry(app, kind="third_place"):
    with app.app_context():
        return search_entries(EntryFilter(kinds=(kind,)), limit=1)[0]


def test_one_statement_and_the_general_paths_etag_and_body(app, client):
    from app.ogc import views

    entry = an_entry(app)
    url = f"/ogc/collections/entries/items/{entry.id}"
    client.get(url)  # the pool's first connection, and its check, are not the item's
    fast, n = statements(app, client, url)
    assert fast.status_code == 200 and n == 1
    assert fast.mimetype == "application/geo+json"
    with app.test_request_context(url):
        general = views._item("entries", str(entry.id))
    assert fast.headers["ETag"] == general.headers["ETag"]
    assert orjson.loads(fast.data) == orjson.loads(general.get_data())
    assert orjson.loads(fast.data)["properties"]["slug"] == entry.slug
    again, n = statements(app, client, url, **{"If-None-Match": fast.headers["ETag"]})
    assert again.status_code == 304 and n == 1


def test_a_collection_of_another_kind_or_html_goes_the_general_way(app, client):
    entry = an_entry(app)
    assert client.get(f"/ogc/collections/commons/items/{entry.id}").status_code == 404
    assert client.get(f"/ogc/collections/third-places/items/{entry.id}").status_code == 200
    html = client.get(f"/ogc/collections/entries/items/{entry.id}?f=html")
    assert html.status_code == 200 and html.mimetype == "text/html"
    bad = client.get(f"/ogc/collections/entries/items/{entry.id}?limit=3")
    assert bad.status_code == 400
