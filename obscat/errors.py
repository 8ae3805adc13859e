"""The exceptions obscat raises; the CLI turns each into one ``Error: ...`` line."""

import difflib
from collections.abc import Iterable

__all__ = [
    "ObscatError",
    "DatabaseError",
    "SchemaVersionError",
    "InputError",
    "NotFoundError",
    "EmptyCatalogError",
    "ParameterError",
    "did_you_mean",
    "one_line",
    "printable",
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


class ParameterError(InputError):
    """An argument out of range or inconsistent with another.

    The message quotes Python parameters in backticks, as ```n_groups``` or
    ```n_groups=0```; the CLI rewrites each quote in its own words (``--n-groups 0``).
    """


class NotFoundError(ObscatError):
    """A named store, observation or other object does not exist."""


class EmptyCatalogError(NotFoundError):
    """The catalogue holds no observation yet."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``": did you mean 'zen_pnt_deg'?"`` for a misspelt ``name`` (a column without its unit
    suffix, another case, a typo), or ``""`` if no known name is close."""
    known, lower = list(known), name.lower()
    matches = [k for k in known if k.startswith(lower + "_")][:3] or difflib.get_close_matches(lower, known, n=1)
    return f": did you mean {' or '.join(map(repr, matches))}?" if matches else ""


#: The longest message line printed; longer ones (a 100 kB name quoted back) keep both ends.
MAX_LINE = 2000


def one_line(exc: BaseException | None) -> str:
    """The first line of an exception's message (its type name if it has none), with control
    characters escaped and at most :data:`MAX_LINE` characters."""
    text = str(exc).strip()
    line = printable(text.splitlines()[0]) if text else type(exc).__name__
    if len(line) > MAX_LINE:
        cut = len(line) - MAX_LINE
        line = f"{line[:MAX_LINE // 2]} …[{cut} characters]… {line[-MAX_LINE // 2:]}"
    return line


def printable(text: str) -> str:
    """``text`` with control characters (terminal escapes, NUL ...) written as ``\\xNN``."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)
