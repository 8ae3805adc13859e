"""Where the catalogue lives: database URL resolution (option > environment > default)."""

import os

__all__ = ["DEFAULT_URL", "ENV_VAR", "resolve_url"]

ENV_VAR = "OBSCAT_DB_URL"
DEFAULT_URL = "sqlite:///obscat.db"


def resolve_url(url: str | None = None) -> str:
    """Return the database URL to use.

    An explicit ``url`` wins, then the ``OBSCAT_DB_URL`` environment variable,
    then ``sqlite:///obscat.db`` in the working directory.  A bare
    ``postgresql://`` URL is routed to the psycopg 3 driver.
    """
    url = url or os.environ.get(ENV_VAR) or DEFAULT_URL
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
