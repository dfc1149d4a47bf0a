"""Importers: OpenStreetMap (Overpass JSON, OSM XML, .osm.pbf) and CSV readers.

Every reader turns its source into `Candidate` records through a mapping file
(data/mappings/); all of them feed the one upsert pipeline (`importers.pipeline`).
"""
