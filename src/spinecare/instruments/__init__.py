"""Validated instruments: their registry, exact scoring and change over time."""
