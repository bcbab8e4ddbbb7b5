"""Reusable widgets of the terminal app (each self-contained, with its own DEFAULT_CSS)."""
