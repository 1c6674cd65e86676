"""Fail-safes."""
