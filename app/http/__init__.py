"""HTTP manners shared by every blueprint (pages, API, OGC API, exports), one job a module.

conditional (ETag, Last-Modified, 304), cache (the response cache), json (orjson
answers), problems (RFC 9457 problem+json under /api and /ogc), cors, compression,
streaming (streams that fail before they start), headers (security headers),
input_guard (input no route can take), outage (503 while the database is away),
locale (the page's language) and errors (error pages for people).
`create_app` installs the app-wide ones; blueprints import what they use from here.
"""
