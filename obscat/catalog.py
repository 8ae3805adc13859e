"""The Python API: :class:`Catalog`, one object per catalogue database.

Each method is a thin call into the layer that does the work (store, compute, query, group);
results are astropy Tables with units or the frozen dataclasses of :mod:`obscat.results`.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ParameterError
from .results import (
    AnnotationRemoval,
    AnnotationReport,
    AnnotationSetSummary,
    Explanation,
    FeatureSetRemoval,
    FeatureSetSummary,
    GroupingSummary,
    LeftOut,
    PointingReport,
    ShardImport,
    ShardPlan,
    StoreSummary,
)
from .store.config import resolve_url
from .store.engine import create_engine, display_url
from .store.schema import ensure_schema

if TYPE_CHECKING:
    from astropy.table import Table
    from matplotlib.figure import Figure
    from sqlalchemy.orm import Session

    from .formats import RowStream
    from .group.grouping import GroupingResult, StoredGrouping
    from .group.match_stored import MatchResult
    from .store.check import CheckReport
    from .store.derived import StoreRemoval
    from .store.epochs import EpochChange
    from .store.ingest import IngestReport, Progress
    from .store.models import Observation

__all__ = ["Catalog"]


class Catalog:
    """An observation catalogue in SQLite or PostgreSQL.

    Parameters
    ----------
    url : str, optional
        Database URL; defaults to ``$OBSCAT_DB_URL`` or ``sqlite:///obscat.db``.
        A new (empty) database is created at the current schema; one at an
        older schema revision is refused until ``obscat db upgrade`` is run.

    ``selection`` arguments take a criterion of :mod:`obscat.query`, Gammapy
    ``select_observations`` dicts (one, or a list meaning AND), or None (every observation).

    Examples
    --------
    >>> cat = Catalog("sqlite:///obscat.db")                    # doctest: +SKIP
    >>> cat.ingest("$GAMMAPY_DATA/hess-dl3-dr1", name="hess")   # doctest: +SKIP
    >>> cat.observations(store="hess")["zen_pnt_deg"].unit      # doctest: +SKIP
    Unit("deg")
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = resolve_url(url)
        self.engine = create_engine(self.url)
        try:
            ensure_schema(self.engine)
        except BaseException:
            self.engine.dispose()
            raise

    def __repr__(self) -> str:
        return f"Catalog({display_url(self.url)!r})"

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """An ORM session (:mod:`obscat.store.models`) in one transaction.

        Read-only by default: it takes no writer lock, and a write (a flush of changed or new
        objects) is an :class:`~obscat.errors.DatabaseError`. ``write=True`` writes: everything is
        committed when the block ends, or nothing if it raises.
        """
        from .store.session import orm_session

        with orm_session(self.engine, write=write) as session:
            yield session

    def _criterion(self, selection):
        """The criterion of a ``selection`` argument, its annotation criteria bound to their sets."""
        from .query.annotations import bind_annotations
        from .query.gammapy import as_criterion

        return bind_annotations(self.engine, as_criterion(selection))

    # -- stores --------------------------------------------------------------------------

    def ingest(self, path: str | os.PathLike | None = None, *, obs_index: str | os.PathLike | None = None,
               hdu_index: str | os.PathLike | None = None, name: str | None = None, replace: bool = False,
               progress: Progress | None = None) -> IngestReport:  # fmt: skip
        """Ingest a GADF data store; see :func:`obscat.store.ingest.ingest` (``replace``: a store of
        this name ingested from other index files). ``$VARS`` in paths are expanded."""
        from .store.ingest import ingest

        path, obs_index, hdu_index = (None if p is None else os.path.expandvars(os.fspath(p))
                                      for p in (path, obs_index, hdu_index))  # fmt: skip
        return ingest(self.engine, path, obs_index=obs_index, hdu_index=hdu_index, name=name, replace=replace,
                      progress=progress)  # fmt: skip

    def stores(self) -> list[StoreSummary]:
        """Every ingested store with its counts, by name."""
        from .store.stores import store_summaries

        return store_summaries(self.engine)

    def remove_store(self, name: str) -> StoreRemoval:
        """Delete a store and everything that depends on it; say what went (groupings that lost
        members count them in ``members_removed``, as after a re-ingest)."""
        from .store.stores import remove_store

        return remove_store(self.engine, name)

    def check(self, store: str | None = None) -> CheckReport:
        """Compare the data and index files of ``store`` (default: every store) with what was
        recorded at ingest, and count stale derived results; writes nothing. See :mod:`obscat.store.check`."""
        from .store.check import check

        return check(self.engine, store)

    # -- observations --------------------------------------------------------------------

    def iter_observations(self, selection=None, *, store: str | None = None,
                          columns: Sequence[str] | None = None) -> RowStream:  # fmt: skip
        """As :meth:`observations`, as a :class:`~obscat.formats.RowStream` read in batches from a
        server-side cursor (memory stays flat); close it, or read it to the end, to release the connection."""
        from .query.observations import OBSERVATION_COLUMNS, observation_stream

        names = list(OBSERVATION_COLUMNS if columns is None else columns)
        return observation_stream(self.engine, names, self._criterion(selection), store)

    def select(self, selection=None, *, store: str | None = None, columns: Sequence[str] | None = None) -> Table:
        """The observations ``selection`` keeps, by store and OBS_ID, as Gammapy's ObservationTable
        shows them: ``store``, ``obs_id``, ``pointing_radec`` (ICRS SkyCoord; NaN where unknown),
        ``time_start``/``time_stop`` (TT Times; masked where unknown), then ``columns`` (default: every
        observation column) with their units."""
        from .formats import with_sky_and_times
        from .query.observations import OBSERVATION_COLUMNS

        wanted = list(OBSERVATION_COLUMNS if columns is None else columns)
        used = ["obs_id", "ra_pnt_deg", "dec_pnt_deg", "tstart_mjd", "tstop_mjd"]
        return with_sky_and_times(self.observations(selection, store=store, columns=list(dict.fromkeys([*used, *wanted]))),
                                  wanted)  # fmt: skip

    def observations(self, selection=None, *, store: str | None = None,
                     columns: Sequence[str] | None = None) -> Table:  # fmt: skip
        """``store`` and the observation ``columns`` (default: all) with their units, NULL masked,
        by store and OBS_ID, of the observations ``selection`` keeps (of ``store`` only, if given)."""
        return self.iter_observations(selection, store=store, columns=columns).to_table()

    def left_out(self, selection) -> LeftOut:
        """How many observations ``selection`` left out only because they have no sky pointing (its
        cones) or no times (its time ranges): worth a warning, as they may be what was meant."""
        from .query.observations import left_out

        return left_out(self.engine, self._criterion(selection))

    def explain(self, obs_id: int, selection=None, *, store: str | None = None) -> Explanation:
        """Whether ``selection`` keeps observation ``obs_id`` (of ``store``, needed only when the
        OBS_ID is in several stores), criterion by criterion with the observation's values."""
        from .query.explain import explain_observation

        return explain_observation(self.engine, obs_id, self._criterion(selection), store)

    def datastore(self, selection=None, *, grouping: str | None = None, label: str | None = None):
        """The observations of ``selection`` (a criterion or Gammapy dicts; default: all), or of stored
        ``grouping`` (its group ``label`` only, if given; then also kept by ``selection``), as a
        ``gammapy.data.DataStore`` built in memory with absolute file paths; nothing is written.
        Needs the ``obscat[gammapy]`` extra. See :mod:`obscat.group.datastore`."""
        from .group.datastore import gammapy_datastore

        return gammapy_datastore(self.engine, self._criterion(selection), grouping=grouping, label=label)

    def observation(self, obs_id: int, store: str | None = None) -> Observation:
        """One observation (detached, with its store and HDUs loaded) by OBS_ID.

        ``store`` is needed only when the OBS_ID exists in several stores.
        """
        from .store.session import observation

        return observation(self.engine, obs_id, store)

    def compute_pointing(self, selection=None, *, progress: Progress | None = None) -> PointingReport:
        """Compute and store the pointing's zenith, altitude and azimuth at mid-time (columns
        ``zen_tmid_deg``, ...) and the GTIs (:meth:`gti`) of the selected observations; see
        :mod:`obscat.compute.pointing`."""
        from .compute.pointing import compute_pointing

        return compute_pointing(self.engine, self._criterion(selection), progress)

    def gti(self, selection=None) -> Table:
        """The stored GTIs of the selected observations (:meth:`compute_pointing` reads them): one
        row per interval, columns ``store``, ``obs_id``, ``start`` and ``stop`` (astropy Time, TT),
        in store, OBS_ID and GTI order."""
        from .query.gti import gti_table

        return gti_table(self.engine, self._criterion(selection))

    # -- features ------------------------------------------------------------------------

    def compute_features(self, energy_true, *, features: Sequence[str] | None = None, position=None, fixed_offset=None,
                         containment_fraction: float = 0.68, aeff_threshold_fraction: float = 0.1,
                         psf_containment: str = "gammapy", store: str | None = None,
                         obs_ids: Sequence[int] | None = None, selection=None, workers: int | None = None,
                         executor=None, strict: bool = False, missing_only: bool = False, progress=None) -> Table:  # fmt: skip
        """Compute (or recompute) and store IRF features; return them as an astropy Table.

        ``energy_true`` is a Quantity or a string such as ``"1 TeV"``;
        ``position`` a SkyCoord (any frame); ``fixed_offset`` an angle
        Quantity. Map IRFs (psf_map, edisp_kernel_map) are evaluated at ``position``
        or, without it, at the observation's PSF map centre. The table has ``store``, ``obs_id`` and one column per
        feature with its unit; ``table.meta["feature_set"]`` names the set.
        ``missing_only`` computes only observations the set does not hold yet, or holds
        stale (computed from files that have changed since); ``table.meta["n_computed"]``
        counts the observations computed; ``table.meta["n_kept"]`` those whose stale values were
        kept because a file they were computed from has gone (recompute them with ``missing_only=False``).
        ``psf_containment="exact"`` gives analytic PSFs' (psf_king, psf_3gauss)
        exact radius instead of Gammapy's gridded one (``"gammapy"``).
        The work runs on ``executor``: ``"process"`` (the default: ``workers`` local processes),
        ``"dask"`` (a Dask ``LocalCluster`` of ``workers`` processes), ``"dask=ADDRESS"`` (the Dask
        scheduler at ``ADDRESS``, e.g. ``"dask=tcp://host:8786"``) or any
        :class:`concurrent.futures.Executor`; see docs/executors.md. Values are stored in batches
        as they arrive (all at once with ``strict``), so a killed run keeps what it stored and
        ``missing_only`` resumes it. Observations whose worker crashed every time are stored as
        NULL with the reason, one line per file in ``table.meta["crashed"]`` (an error with ``strict``).
        """
        from .compute.executors import open_executor
        from .compute.features import Computed, compute_features, feature_params

        params = feature_params(energy_true, features=features, position=position, fixed_offset=fixed_offset,
                                containment_fraction=containment_fraction,
                                aeff_threshold_fraction=aeff_threshold_fraction, psf_containment=psf_containment)
        selection = None if selection is None else self._criterion(selection)
        with open_executor(executor, workers) as pool:
            done: Computed[None] = compute_features(
                self.engine, params, store=store, obs_ids=obs_ids, selection=selection, workers=workers,
                executor=pool, strict=strict, missing_only=missing_only, progress=progress,
            )  # fmt: skip
        table = self.feature_set(done.name, obs_ids=obs_ids, store=store, selection=selection)
        table.meta.update(n_computed=done.n_computed, n_kept=done.n_kept, crashed=done.crashed)
        return table

    def plan_features(self, out_dir: str | os.PathLike, shards: int, energy_true, *, features: Sequence[str] | None = None,
                      position=None, fixed_offset=None, containment_fraction: float = 0.68,
                      aeff_threshold_fraction: float = 0.1, psf_containment: str = "gammapy", store: str | None = None,
                      obs_ids: Sequence[int] | None = None, selection=None, missing_only: bool = False) -> ShardPlan:  # fmt: skip
        """Plan the features of the selected observations (parameters as :meth:`compute_features`) as
        ``shards`` manifests in ``out_dir``, for batch jobs without database access: each job runs
        :func:`obscat.run_manifest` (``obscat features run``), then
        :meth:`import_features` stores the shard tables. Observations sharing IRF files go to one
        shard as far as the balance allows; see docs/shards.md."""
        from .compute.feature_params import feature_params
        from .compute.shard_plan import plan_shards

        params = feature_params(energy_true, features=features, position=position, fixed_offset=fixed_offset,
                                containment_fraction=containment_fraction,
                                aeff_threshold_fraction=aeff_threshold_fraction, psf_containment=psf_containment)
        return plan_shards(self.engine, params, out_dir, shards, store=store, obs_ids=obs_ids,
                           selection=None if selection is None else self._criterion(selection),
                           missing_only=missing_only)  # fmt: skip

    def import_features(self, paths: Sequence[str | os.PathLike]) -> ShardImport:
        """Store the shard tables ``paths`` (written by ``obscat features run``) in their feature sets,
        in one transaction: importing a shard again changes nothing. A malformed shard, one whose
        parameters do not match its sha256, whose files changed since or whose observations are no
        longer in the catalogue is refused, and nothing is written."""
        from .compute.shard_import import import_shards

        return import_shards(self.engine, paths)

    @staticmethod
    def executor(executor="dask", workers: int | None = None):
        """A context manager giving the executor ``executor`` names, as :meth:`compute_features`
        takes it (``"process"`` gives None: the local pool), so that several calls share one Dask
        cluster; a Dask executor's ``dashboard`` is the link to its dashboard."""
        from .compute.executors import open_executor

        return open_executor(executor, workers)

    def feature_sets(self) -> list[FeatureSetSummary]:
        """Every stored feature set with its parameters and counts, oldest first."""
        from .compute.feature_sets import feature_sets

        return feature_sets(self.engine)

    def feature_set(self, name: str, *, obs_ids: Sequence[int] | None = None, store: str | None = None,
                    selection=None) -> Table:  # fmt: skip
        """A stored feature set: ``store``, ``obs_id`` and one column per feature with its unit (NULL
        masked), by store and OBS_ID, of the observations of ``store``, ``obs_ids`` and ``selection``
        if given (filtered in SQL); ``table.meta["feature_set"]`` is ``name``."""
        table = self.iter_feature_set(name, obs_ids=obs_ids, store=store, selection=selection).to_table()
        table.meta["feature_set"] = name
        return table

    def iter_feature_set(self, name: str, *, obs_ids: Sequence[int] | None = None, store: str | None = None,
                         selection=None) -> RowStream:  # fmt: skip
        """As :meth:`feature_set`, as a :class:`~obscat.formats.RowStream`."""
        from .compute.feature_sets import feature_stream

        return feature_stream(self.engine, name, obs_ids=obs_ids, store=store,
                              selection=None if selection is None else self._criterion(selection))  # fmt: skip

    def delete_feature_set(self, name: str) -> FeatureSetRemoval:
        """Delete a stored feature set and its values; say how many went."""
        from .compute.feature_sets import delete_feature_set

        return delete_feature_set(self.engine, name)

    # -- groupings -----------------------------------------------------------------------

    def split(self, name: str, column: str, *, at=None, selection=None, replace: bool = False) -> GroupingResult:
        """Split the selection at ``at``: ``Median()`` (the default), ``Median(of="other_column")``,
        ``Quantiles([0.25, 0.5])``, a Quantity or a number; store it as grouping ``name``:
        ``low_<word>`` (``value < cut``, as Gammapy's tutorial) and ``high_<word>``. ``replace``
        overwrites a grouping of that name."""
        from .group import grouping

        return grouping.split(self.engine, name, column, grouping.Median() if at is None else at, self._criterion(selection),
                              replace=replace)  # fmt: skip

    def bins(self, name: str, column: str, edges, *, selection=None, replace: bool = False) -> GroupingResult:
        """Group the selection into the half-open bins ``[lo, hi)`` of ``column`` given by ``edges``
        and store it as grouping ``name``."""
        from .group import grouping

        return grouping.bins(self.engine, name, column, edges, self._criterion(selection), replace=replace)

    def group_by(self, name: str, column: str, *, selection=None, replace: bool = False) -> GroupingResult:
        """One group per distinct value of ``column`` (e.g. ``n_tels``, or the text column
        ``event_type``), stored as grouping ``name``."""
        from .group import grouping

        return grouping.by(self.engine, name, column, self._criterion(selection), replace=replace)

    def cluster(self, name: str, features: Sequence[str], *, feature_set: str | None = None, energy_true=None,
                position=None, fixed_offset=None, containment_fraction: float = 0.68, selection=None,
                n_groups: int | None = None, max_distance: float | None = None, inconsistent: float | None = None,
                max_spread: dict | None = None, standardize: str = "zscore", method: str = "ward",
                replace: bool = False, workers: int | None = None, executor=None, progress=None) -> GroupingResult:  # fmt: skip
        """Cluster the selected observations on IRF features and store the groups; see
        :func:`obscat.group.grouping.cluster`.

        The features come from the stored ``feature_set``, or are computed (once, then
        reused) with ``energy_true``, ``position``/``fixed_offset`` and
        ``containment_fraction``, on ``executor`` with ``workers`` (as :meth:`compute_features`);
        the computed features and the grouping are written in one
        transaction (a refused clustering writes neither).
        """
        from .compute.executors import open_executor
        from .compute.features import compute_features, feature_params
        from .group import grouping

        selection = self._criterion(selection)
        if (feature_set is None) == (energy_true is None):
            raise ParameterError("give `feature_set` (a stored feature set) or `energy_true` (to compute one), "
                                 "not both or neither")  # fmt: skip
        cluster = functools.partial(grouping.cluster, n_groups=n_groups, max_distance=max_distance,
                                    inconsistent=inconsistent, max_spread=max_spread, standardize=standardize,
                                    method=method, replace=replace)  # fmt: skip
        if feature_set is not None:
            return cluster(self.engine, name, feature_set, features, selection)
        params = feature_params(energy_true, features=list(dict.fromkeys([*features, *(max_spread or {})])),
                                position=position, fixed_offset=fixed_offset,
                                containment_fraction=containment_fraction)  # fmt: skip
        with open_executor(executor, workers) as pool:
            result = compute_features(
                self.engine, params, selection=selection, workers=workers, executor=pool, missing_only=True,
                progress=progress, then=lambda conn, set_name: cluster(conn, name, set_name, features, selection),
            ).result  # fmt: skip
        assert result is not None  # what `then` returned
        return result

    def match(self, name: str, on, off_from, *, preset: str | None = None, max_delta: dict | None = None,
              same: Sequence[str] | None = None, weights: dict | None = None, n_off: int | None = None,
              livetime_ratio: float | None = None, unique: bool | None = None, exclusion_radius=None, sources=None,
              min_abs_b=None, replace: bool = False) -> MatchResult:  # fmt: skip
        """OFF runs for the ON runs ``on`` selects, among the observations ``off_from`` selects, stored as
        grouping ``name`` (labels ``on``, ``off``, ``unmatched``, and its pairs); see
        :mod:`obscat.group.match` and docs/matching.md.

        ``on``/``off_from`` are selections (a criterion, Gammapy dicts, or ``--where`` text).
        ``preset`` (``"veritas-mimic"``, ``"hess-runmatch"``) gives rules the other arguments
        override. ``max_delta`` maps ``zenith``, ``azimuth`` (wrapped at 360 deg), ``airmass``
        (``1/sin(elevation)``) or a numeric column to its tolerance (a Quantity, ``"5 deg"``, or a
        number in the column's unit; None drops a preset's); ``same`` names columns whose values must
        be equal; ``weights`` weigh the ranking's normalised differences (default 1). Each ON run takes
        ``n_off`` OFF runs (default 1), or enough for ``livetime_ratio`` times its livetime; ``unique``
        uses an OFF run once. OFF runs within ``exclusion_radius`` of any ON pointing or of
        ``sources`` (a SkyCoord) or at ``|b| < min_abs_b`` are left out. ``replace`` overwrites a
        grouping of that name. The result's ``pairs`` and ``unmatched`` are Tables.
        """
        from .group.match_rules import match_rules
        from .group.match_stored import match

        rules, params = match_rules(preset=preset, max_delta=max_delta, same=same, weights=weights, n_off=n_off,
                                    livetime_ratio=livetime_ratio, unique=unique, exclusion_radius=exclusion_radius,
                                    sources=sources, min_abs_b=min_abs_b)  # fmt: skip
        return match(self.engine, name, self._criterion(_selection(on, "on")),
                     self._criterion(_selection(off_from, "off_from")), rules, params, replace=replace)  # fmt: skip

    def groupings(self) -> list[GroupingSummary]:
        """Every stored grouping with its numbers of groups and observations, by name."""
        from .group.grouping import groupings

        return groupings(self.engine)

    def grouping(self, name: str) -> StoredGrouping:
        """Stored grouping ``name`` as made: method, params, the selection as a criterion that re-runs
        to the same observations, and its members (a Table: label, store, obs_id)."""
        from .group.stored import stored_grouping

        return stored_grouping(self.engine, name)

    def grouping_annotation_sets(self, name: str) -> tuple[tuple[str, int], ...]:
        """The annotation set versions, (name, version), stored grouping ``name``'s selection used
        (as :meth:`grouping` gives them, without reading its members)."""
        from .group.stored import grouping_annotation_sets

        return grouping_annotation_sets(self.engine, name)

    def iter_grouping_members(self, name: str) -> RowStream:
        """Stored grouping ``name``'s members (``label``, ``store``, ``obs_id``, by label, store and
        OBS_ID) as a :class:`~obscat.formats.RowStream`."""
        from .group.stored import member_stream

        return member_stream(self.engine, name)

    def match_pairs(self, name: str) -> Table:
        """Match ``name``'s ON runs with their OFF runs (``on_store``, ``on_obs_id``, ``off_store``,
        ``off_obs_id``, ``rank``, ``distance``; OFF columns masked for an unmatched ON run), by ON run
        and rank."""
        return self.iter_match_pairs(name).to_table()

    def iter_match_pairs(self, name: str) -> RowStream:
        """As :meth:`match_pairs`, as a :class:`~obscat.formats.RowStream`."""
        from .group.match_stored import pair_stream

        return pair_stream(self.engine, name)

    def grouping_method(self, name: str) -> str:
        """How stored grouping ``name`` was made: ``split``, ``bins``, ``by``, ``cluster`` or ``match``."""
        from .group.stored import grouping_method

        return grouping_method(self.engine, name)

    def rename_grouping(self, old: str, new: str) -> None:
        """Rename a stored grouping (``new`` must be free)."""
        from .group.grouping import rename

        rename(self.engine, old, new)

    def delete_grouping(self, name: str) -> None:
        """Delete a stored grouping (its observations stay)."""
        from .group.grouping import delete

        delete(self.engine, name)

    def export_grouping(self, name: str, target: str | os.PathLike, *, format: str = "gadf",
                        allow_missing: bool = False) -> list[Path] | Path:  # fmt: skip
        """Export a stored grouping. ``format="gadf"``: one GADF data store per group in the new (or
        empty) directory ``target``, its index files pointing at the original files (Gammapy's
        ``DataStore.from_dir`` opens each), returned as a list; missing data files are an error, or
        with ``allow_missing`` a :class:`~obscat.group.export.MissingFilesWarning`.
        ``format="csv"`` or ``"ecsv"``: one member table written to the new file ``target``."""
        from .group.export import export_gadf, export_table

        target = Path(os.path.expandvars(os.fspath(target)))
        if format == "gadf":
            return export_gadf(self.engine, name, target, allow_missing=allow_missing)
        if format in ("csv", "ecsv"):
            return export_table(self.engine, name, target, format)
        raise ParameterError(f"`format={format!r}` must be 'gadf', 'csv' or 'ecsv'")

    def plot(self, name: str, *, kind: str | None = None, x: str | None = None, y: str | None = None,
             feature_set: str | None = None) -> Figure:  # fmt: skip
        """A matplotlib Figure of a stored grouping coloured by label (needs the plot extra):
        ``kind="scatter"`` of ``y`` against ``x`` (observation columns or features, of ``feature_set``,
        by default the clustering's), ``"sky"`` (the pointings), ``"dendrogram"`` (a clustering) or
        ``"pairs"`` (a match: ON and OFF runs in zenith and azimuth, a line per pair). The default is
        ``"pairs"`` for a match, else ``"scatter"``."""
        from .group import plot

        if kind is None:
            kind = "pairs" if self.grouping_method(name) == "match" else "scatter"
        if kind == "pairs":
            from .group.match_plot import pair_plot

            return pair_plot(self.engine, name)
        if kind == "scatter":
            if x is None or y is None:
                raise ParameterError("a scatter plot needs `x` and `y`")
            return plot.scatter(self.engine, name, x, y, feature_set=feature_set)
        if kind == "sky":
            return plot.sky_map(self.engine, name)
        if kind == "dendrogram":
            return plot.dendrogram(self.engine, name)
        raise ParameterError(f"`kind={kind!r}` must be 'scatter', 'sky', 'dendrogram' or 'pairs'")

    def report(self, path: str | os.PathLike, *, groupings: Sequence[str] | None = None, selection=None,
               overwrite: bool = False) -> Path:  # fmt: skip
        """Write one self-contained HTML page to ``path`` (an existing file only with ``overwrite``): the stores, the observations
        ``selection`` keeps (per target, on the sky, per month, zenith and muon efficiency), the
        distributions of every feature set, and each of ``groupings`` (default: every stored one) with
        its figure, members and provenance. No server, no external request; the same catalogue gives
        the same bytes but for the line saying when. Needs the plot extra; see docs/report.md."""
        from .report.page import write_report

        return write_report(self, path, self._criterion(selection), groupings=groupings, overwrite=overwrite)

    # -- epochs --------------------------------------------------------------------------

    def load_epochs(self, path_or_mapping: str | os.PathLike | Mapping, replace: bool = False, *,
                    force: bool = False) -> EpochChange:  # fmt: skip
        """Store the epochs of a YAML file or a mapping of the same shape (``{"epochs": [{"name": ...,
        "telescope": ..., "start": Time, "stop": Time, "first_obs_id": ..., ...}]}``, see docs/epochs.md)
        and give every observation its epoch. Epochs of one scope must not overlap; an epoch stored
        with another definition is replaced only with ``replace``, and one a grouping used also needs
        ``force``. Nothing is written if anything is refused."""
        from .store.epoch_definitions import read_definitions
        from .store.epochs import load_epochs

        definitions, source = read_definitions(path_or_mapping)
        return load_epochs(self.engine, definitions, source, replace=replace, force=force)

    def epochs(self) -> Table:
        """Every stored epoch, oldest first: ``name``, its scope (``store``, ``telescope``,
        ``instrument``), ``start``/``stop`` (Times, masked where unbounded; [start, stop) of the
        observations' start), ``first_obs_id``/``last_obs_id`` (masked where unbounded), ``n_obs`` (its
        observations), ``description``, ``source`` (the file it came from)."""
        from .formats import epoch_table
        from .store.epochs import stored_epochs

        return epoch_table(stored_epochs(self.engine))

    def delete_epochs(self, names: Sequence[str] | None = None, *, force: bool = False) -> EpochChange:
        """Delete the epochs ``names`` (default: every epoch); their observations are then in no
        epoch. An epoch a grouping used (``group_by(..., "epoch")``, or a selection naming it) is
        deleted only with ``force``."""
        from .store.epochs import delete_epochs

        return delete_epochs(self.engine, names, force=force)

    # -- annotations ---------------------------------------------------------------------

    def annotate(self, path: str | os.PathLike, *, name: str, key: str, store: str | None = None,
                 units: dict[str, str] | None = None, categories: dict[str, Sequence[str]] | None = None,
                 masks: Sequence[str] | None = None, on_duplicate: str | None = None,
                 aggregate: dict[str, str] | None = None, progress: Progress | None = None) -> AnnotationReport:  # fmt: skip
        """Ingest a per-run quality table (ECSV, CSV, FITS; HDF5 with ``obscat[hdf5]``) as the next
        version of annotation set ``name``, its rows matched to the observations of ``store`` (needed
        when the catalogue holds several) by the OBS_IDs of column ``key``.

        Numbers keep the file's units (``units`` gives those a CSV file cannot: ``{"rate": "Hz"}``);
        ``categories`` makes a text column an ordered category, best first (``{"weather": ["A+",
        "A", "B"]}``); ``masks`` names integer bit-mask columns. Duplicate keys are refused unless
        ``on_duplicate`` ("first", "last", "max:COLUMN") picks a row or ``aggregate`` combines every
        column ("mean", "min", "max": of masks the bits of every row, of any row; "frac": the fraction
        of true/non-zero). See :mod:`obscat.store.annotations`."""
        from .store.annotations import annotate

        return annotate(self.engine, os.path.expandvars(os.fspath(path)), name=name, key=key, store=store,
                        units=units, categories=None if categories is None else {k: list(v) for k, v in categories.items()},
                        masks=None if masks is None else list(masks), on_duplicate=on_duplicate, aggregate=aggregate,
                        progress=progress)  # fmt: skip

    def annotation_sets(self) -> list[AnnotationSetSummary]:
        """Every version of every annotation set, by name and version."""
        from .store.annotations import annotation_sets

        return annotation_sets(self.engine)

    def annotation_set(self, name: str, version: int | None = None) -> Table:
        """Annotation set ``name`` (its latest version unless ``version``): ``store``, ``obs_id`` and its
        columns with their units (categories as their labels, missing values masked), by OBS_ID."""
        from .store.annotations import annotation_table

        return annotation_table(self.engine, name, version)

    def iter_annotation_set(self, name: str, version: int | None = None) -> RowStream:
        """As :meth:`annotation_set`, as a :class:`~obscat.formats.RowStream` read in batches."""
        from .store.annotations import annotation_stream

        return annotation_stream(self.engine, name, version)

    def delete_annotation_set(self, name: str, version: int | None = None, *, force: bool = False) -> AnnotationRemoval:
        """Delete annotation set ``name`` (every version, or only ``version``). A set a stored grouping's
        selection used is refused, naming the groupings, unless ``force``."""
        from .store.annotations import delete_annotation_set

        return delete_annotation_set(self.engine, name, version, force=force)

    # -- publishing ----------------------------------------------------------------------

    def obscore(self, feature_set: str | None = None, *, selection=None, store: str | None = None,
                authority: str | None = None, access_url: str | None = None, collection: str | None = None,
                fov=None) -> Table:  # fmt: skip
        """IVOA ObsCore 1.1 rows, one per observation (that ``selection`` keeps, of ``store``), with the columns of the High-Energy
        extension and the lowercase GADF ``ra_pnt``, ``dec_pnt``, ``tstart``, ``tstop``; each column
        has its ObsCore unit and its UCD in ``column.meta["ucd"]`` (docs/obscore.md).

        ``feature_set`` fills s_resolution (psf-radius), em_res_power (1 / edisp-res) and the
        reference energy and offsets; ``authority`` (an IVOA authority ID, e.g. ``"example.org"``)
        makes ``obs_publisher_did`` ``ivo://AUTHORITY/STORE?OBS_ID``; ``access_url`` is the base URL
        the store's files are served under (default: ``file://`` URLs); ``collection`` is
        ``obs_collection`` (default: the store name); ``fov`` (an angle, the field-of-view diameter)
        gives s_fov and the s_region circle, else NULL. ``access_url`` and ``fov`` may also map store
        names to values (e.g. ``{"hess": "5 deg", "magic": "3.5 deg"}``), a None key giving the
        value of the stores not named."""
        from .query.observations import require_observations
        from .store.obscore import obscore_table

        criterion = None if selection is None else self._criterion(selection)
        table = obscore_table(self.engine, feature_set=feature_set, store=store,
                              where=None if criterion is None else criterion.clause(), authority=authority,
                              access_url=access_url, collection=collection, fov=fov)  # fmt: skip
        if criterion is not None and not len(table):
            require_observations(self.engine, criterion)  # raises why it keeps none
        return table

    def export_obscore(self, target: str | os.PathLike, *, format: str = "votable", feature_set: str | None = None,
                       selection=None, store: str | None = None, authority: str | None = None,
                       access_url: str | None = None, collection: str | None = None, fov=None) -> Path:  # fmt: skip
        """Write :meth:`obscore` to the new file ``target`` as ``format`` ``"votable"``, ``"ecsv"``,
        ``"fits"`` (units and UCDs) or ``"csv"`` (s_region as DALI text ``ra dec radius``)."""
        from .store.obscore import check_output, write_obscore

        path = Path(os.path.expandvars(os.fspath(target)))
        check_output(path, format)  # before the table is built
        table = self.obscore(feature_set, selection=selection, store=store, authority=authority,
                             access_url=access_url, collection=collection, fov=fov)  # fmt: skip
        return write_obscore(table, path, format)

    # -- SQL -----------------------------------------------------------------------------

    def iter_sql(self, statement: str, params: dict | None = None, *, limit: int | None = None) -> RowStream:
        """As :meth:`sql`, as a :class:`~obscat.formats.RowStream` read in batches."""
        from .store.sql import stream_query

        return stream_query(self.url, statement, params, limit=limit)

    def sql(self, statement: str, params: dict | None = None, *, limit: int | None = None) -> Table:
        """The rows of one read-only SQL query (``SELECT``/``WITH``/``VALUES``/``TABLE``/``EXPLAIN``)
        with ``params`` bound to its ``:name`` placeholders, at most ``limit`` rows; see
        :mod:`obscat.store.sql`. Columns named as schema columns get their units; a name the query
        repeats gets a suffix the second time (``obs_id``, ``obs_id_2``)."""
        from .formats import distinct_names, to_table
        from .store.sql import run_query

        names, rows = run_query(self.url, statement, params, limit)
        return to_table(distinct_names(names), rows)


def _selection(value, parameter: str):
    """A selection argument: ``--where`` text as a criterion, anything else as given."""
    from .query.where import Where

    if value is None:
        raise ParameterError(f"`{parameter}` must be a selection, not None")
    return Where(value) if isinstance(value, str) else value
