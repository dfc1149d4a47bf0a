"""Addresses to positions through the national address service (BAN's API, or a
self-hosted addok): the client (client.py), its cache of answers (cache.py), its
settings (config.py) and the editors' and citizens' endpoints (views.py)."""
