"""Machine-facing endpoints."""
