"""Guidance laws (line of sight)."""
