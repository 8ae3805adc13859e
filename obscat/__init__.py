"""obscat: a database catalogue of IACT observations with grouping queries.

>>> from obscat import Catalog
>>> cat = Catalog("sqlite:///obscat.db")        # doctest: +SKIP
>>> cat.ingest("hess-dl3-dr1", name="hess")      # doctest: +SKIP
"""

from ._version import __version__
from .catalog import Catalog, StoreSummary
from .errors import DatabaseError, InputError, NotFoundError, ObscatError, SchemaVersionError

__all__ = [
    "__version__",
    "Catalog",
    "StoreSummary",
    "ObscatError",
    "DatabaseError",
    "SchemaVersionError",
    "InputError",
    "NotFoundError",
]
