"""Output formats. `public` says once which fields of an entry leave the house."""
