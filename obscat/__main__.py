"""``python -m obscat``: the same as the ``obscat`` command."""

from .cli.app import main

main()
