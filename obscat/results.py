"""What :class:`obscat.Catalog` methods return, besides astropy Tables: frozen dataclasses.

A leaf module (no obscat import): every layer may build these.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

__all__ = ["StoreSummary", "LeftOut", "Explanation", "PointingReport", "FeatureSetSummary", "FeatureSetRemoval", "GroupingSummary"]


@dataclass(frozen=True)
class StoreSummary:
    """One ingested data store with its row counts."""

    name: str
    n_obs: int
    n_hdu: int
    n_files: int
    n_missing_files: int
    telescope: str | None
    first_utc: str | None
    last_utc: str | None
    ingested_at: dt.datetime
    root_path: str


@dataclass(frozen=True)
class LeftOut:
    """Observations a selection left out only because they lack what its criteria test: a sky
    pointing (NULL RA_PNT/DEC_PNT, e.g. ground arrays in DRIFT mode) for cones, times (NULL
    TSTART/TSTOP) for time ranges. Zero where the selection has no such criterion."""

    without_pointing: int
    without_times: int


@dataclass(frozen=True)
class Explanation:
    """:meth:`Catalog.explain`: whether a selection keeps one observation, and why. ``steps`` is an
    astropy Table, one row per criterion of the selection's tree, depth first: ``depth``,
    ``criterion`` (indented by depth), ``value`` (the observation's values it tests) and ``result``
    (``pass``, ``fail``, or ``unknown`` for a NULL value, which no selection keeps)."""

    store: str
    obs_id: int
    kept: bool
    steps: Any


@dataclass(frozen=True)
class PointingReport:
    """:meth:`Catalog.compute_pointing`: observations whose pointing at mid-time was stored, and
    why the others were left NULL (one line each)."""

    n_stored: int
    problems: list[str]


@dataclass(frozen=True)
class FeatureSetSummary:
    """A stored feature set: its parameters (astropy Quantities, a SkyCoord), counts and provenance.

    ``n_null`` counts values undefined for their observation; ``n_stale`` values computed from
    files that have changed since.
    """

    name: str
    energy_true: Any  # Quantity (TeV)
    position: Any  # SkyCoord (ICRS) or None
    fixed_offset: Any  # Quantity (deg) or None
    containment_fraction: float
    n_obs: int
    n_null: int
    n_stale: int
    obscat_version: str
    created_at: dt.datetime


@dataclass(frozen=True)
class FeatureSetRemoval:
    """A deleted feature set: how many observations and values it held."""

    name: str
    n_obs: int
    n_values: int


@dataclass(frozen=True)
class GroupingSummary:
    """A stored grouping: its groups and members; ``members_removed`` counts members a re-ingest
    or store removal took away (None: none)."""

    name: str
    method: str
    n_groups: int
    n_obs: int
    members_removed: int | None
    created_at: dt.datetime
