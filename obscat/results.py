"""What :class:`obscat.Catalog` methods return, besides astropy Tables: frozen dataclasses.

A leaf module (no obscat import): every layer may build these.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "StoreSummary",
    "LeftOut",
    "Explanation",
    "PointingReport",
    "FeatureSetSummary",
    "FeatureSetRemoval",
    "ShardPlan",
    "ShardImport",
    "GroupingSummary",
    "AnnotationColumnInfo",
    "AnnotationSetSummary",
    "AnnotationReport",
    "AnnotationRemoval",
]


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
    #: Per annotation set the selection used ("name (version N)"): observations with no row in it.
    without_annotation: tuple[tuple[str, int], ...] = ()


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
    """:meth:`Catalog.compute_pointing`: observations whose pointing at mid-time was stored, why
    the others were left NULL (one line each), and the observations and rows of the GTIs stored."""

    n_stored: int
    problems: list[str]
    n_gti_observations: int = 0
    n_gti_intervals: int = 0


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
class ShardPlan:
    """Feature shards planned: the manifests written (one per shard, some may be empty), how many
    observations they hold, how many were left out as kept (computed from files gone since), and
    the sha256 of the feature parameters (the set's name is ``fs-`` and its first 8 digits)."""

    paths: tuple[Path, ...]
    n_obs: int
    n_kept: int
    params_sha256: str


@dataclass(frozen=True)
class ShardImport:
    """Feature shards imported: into which feature sets, how many observations and values."""

    feature_sets: tuple[str, ...]
    n_shards: int
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


@dataclass(frozen=True)
class AnnotationColumnInfo:
    """One column of an annotation set: ``kind`` "number" (with ``unit`` or none), "text",
    "category" (``categories`` best first) or "mask"; ``aggregate`` how rows of one observation
    were combined (None: one row each)."""

    name: str
    kind: str
    unit: str | None
    categories: tuple[str, ...] | None
    aggregate: str | None


@dataclass(frozen=True)
class AnnotationSetSummary:
    """One version of an annotation set: its source, counts and columns."""

    name: str
    version: int
    store: str
    source_path: str
    sha256: str
    key_column: str
    on_duplicate: str | None
    n_rows: int
    n_matched: int
    n_unmatched: int
    columns: tuple[AnnotationColumnInfo, ...]
    ingested_at: dt.datetime
    obscat_version: str


@dataclass(frozen=True)
class AnnotationReport:
    """An ingested annotation set, with the first OBS_IDs of the file that match no observation."""

    set: AnnotationSetSummary
    unmatched: tuple[int, ...]

    def summary(self) -> str:
        s = self.set
        text = (
            f"annotation set {s.name!r} version {s.version}: {s.n_rows} rows of {s.source_path}, "
            f"{s.n_matched} observations of store {s.store!r} annotated, {len(s.columns)} columns"
        )
        if s.n_unmatched:
            shown = ", ".join(map(str, self.unmatched))
            more = ", ..." if s.n_unmatched > len(self.unmatched) else ""
            verb = "OBS_ID matches" if s.n_unmatched == 1 else "OBS_IDs match"
            text += f"; {s.n_unmatched} {verb} no observation ({shown}{more})"
        return text


@dataclass(frozen=True)
class AnnotationRemoval:
    """Deleted annotation set versions, and the groupings whose provenance named them."""

    name: str
    versions: tuple[int, ...]
    n_rows: int
    groupings: tuple[str, ...]
