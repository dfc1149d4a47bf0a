"""Domain services: the one way anything is written to the database."""
