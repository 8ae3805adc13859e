"""Grouping algorithms, stored groupings, their export and plots."""
