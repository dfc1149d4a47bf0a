"""The registry of sources: named feeds the Atlas reads again and again.

A source is another Atlas's change feed, a GoGoCarto elements API, an OpenFairDB
(Karte von morgen) API, an Overpass area, or a CSV or GeoJSON URL with its mapping;
it has a licence, a priority (higher wins a disagreement between sources; an
editor's value wins over all), a schedule and perhaps a credential for its requests.
registry.py keeps them, credentials.py seals their secrets, read.py fetches and reads
an answer, run.py tests and runs one through the one import pipeline (or the sync
pull, for an Atlas), cli.py is `flask sources`, app/editor/sources.py the admin page.
"""
