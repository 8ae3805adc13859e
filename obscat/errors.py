"""The exceptions obscat raises; the CLI turns each into one ``Error: ...`` line."""

__all__ = [
    "ObscatError",
    "DatabaseError",
    "SchemaVersionError",
    "InputError",
    "NotFoundError",
    "one_line",
]


class ObscatError(Exception):
    """Base class of every error obscat reports to its user."""


class DatabaseError(ObscatError):
    """The database cannot be opened or used (bad URL, unreachable server, ...)."""


class SchemaVersionError(DatabaseError):
    """The database schema is not at the revision this obscat expects."""


class InputError(ObscatError):
    """A data store, index file or argument is malformed.

    The message names the file, column and row where it can.
    """


class NotFoundError(ObscatError):
    """A named store, observation or other object does not exist."""


def one_line(exc: BaseException | None) -> str:
    """The first line of an exception's message (its type name if it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
