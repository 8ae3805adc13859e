"""Queries: selection criteria and the --where language."""
