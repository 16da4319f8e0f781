"""Readers of foreign weight formats and the converters that build ``models/``."""
