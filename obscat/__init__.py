"""obscat: a database catalogue of IACT observations with grouping queries.

>>> from obscat import Catalog
>>> cat = Catalog("sqlite:///obscat.db")        # doctest: +SKIP
>>> cat.ingest("hess-dl3-dr1", name="hess")      # doctest: +SKIP
"""

from ._version import __version__
from .errors import DatabaseError, InputError, NotFoundError, ObscatError, ParameterError, SchemaVersionError
from .results import FeatureSetRemoval, FeatureSetSummary, GroupingSummary, LeftOut, PointingReport, StoreSummary

__all__ = [
    "__version__",
    "Catalog",
    "run_manifest",
    "datastore_from_obscore",
    "StoreSummary",
    "LeftOut",
    "PointingReport",
    "FeatureSetSummary",
    "FeatureSetRemoval",
    "GroupingSummary",
    "ObscatError",
    "ParameterError",
    "DatabaseError",
    "SchemaVersionError",
    "InputError",
    "NotFoundError",
]


def __getattr__(name: str):
    # Catalog pulls in SQLAlchemy's ORM: imported on first use, so that
    # `obscat --help` and `python -m obscat` start fast.
    if name == "Catalog":
        from . import catalog

        return getattr(catalog, name)
    if name == "run_manifest":  # a batch job's call: no catalogue, no database (docs/shards.md)
        from .compute import shards

        return shards.run_manifest
    if name == "datastore_from_obscore":  # ObsCore rows to Gammapy: no catalogue, no database (docs/obscore.md)
        from .group import obscore_datastore

        return obscore_datastore.datastore_from_obscore
    raise AttributeError(f"module 'obscat' has no attribute {name!r}")
