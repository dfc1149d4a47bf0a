"""OGC API – Features under /ogc: `views` speaks the protocol, `provider` reads the data."""
