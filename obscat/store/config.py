"""Where the catalogue lives: database URL resolution (option > environment > default)."""

import os
import re
from pathlib import Path

from ..errors import DatabaseError

__all__ = ["DEFAULT_URL", "ENV_VAR", "resolve_url"]

ENV_VAR = "OBSCAT_DB_URL"
DEFAULT_URL = "sqlite:///obscat.db"
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def resolve_url(url: str | None = None) -> str:
    """Return the database URL to use.

    An explicit ``url`` wins, then the ``OBSCAT_DB_URL`` environment variable,
    then ``sqlite:///obscat.db`` in the working directory.  A bare file name
    (no ``scheme://``), e.g. ``catalogue.db``, means that SQLite file (relative
    to the working directory).  A bare ``postgresql://`` URL is routed to the
    psycopg 3 driver.
    """
    url = url or os.environ.get(ENV_VAR) or DEFAULT_URL
    if not _SCHEME.match(url):
        return _sqlite_file_url(url)
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _sqlite_file_url(name: str) -> str:
    """``sqlite:///`` URL of a database file; a clear error if it cannot be one."""
    path = Path(name).expanduser().absolute()
    if path.is_dir():
        raise DatabaseError(f"database {name!r} is a directory, not a file name or URL")
    if not path.parent.is_dir():
        raise DatabaseError(
            f"database {name!r} is neither a URL (sqlite:///FILE, postgresql://USER@HOST/DB) "
            f"nor a file name in an existing directory"
        )
    return f"sqlite:///{path}"
