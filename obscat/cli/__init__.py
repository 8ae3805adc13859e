"""The ``obscat`` command line, its output formatting and the demo."""

from .app import app, main

__all__ = ["app", "main"]
