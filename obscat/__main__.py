"""``python -m obscat``: the same as the ``obscat`` command."""

from .cli import main

main()
