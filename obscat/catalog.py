"""The Python API: :class:`Catalog`, one object per catalogue database."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from .store.config import resolve_url
from .store.engine import connect, create_engine, display_url, write_transaction
from .store.rows import empty_catalog_error, store_id
from .store.schema import ensure_schema
from .errors import InputError, NotFoundError, did_you_mean
from .store.models import POINTING_COLUMNS, DataStore, Hdu, HduFile, Observation, observation_column
from .query.selection import explain_empty

if TYPE_CHECKING:
    from astropy.table import Table

    from .store.check import CheckReport
    from .store.derived import StoreRemoval
    from .store.ingest import IngestReport, Progress

__all__ = ["Catalog", "StoreSummary", "OBSERVATION_COLUMNS"]

#: Observation columns users see: ``observation``'s (internal keys left out) in schema order,
#: then the pointing at mid-time (table ``pointing``).
OBSERVATION_COLUMNS = tuple(
    c.name for c in Observation.__table__.columns if c.name not in ("id", "store_id")
) + POINTING_COLUMNS


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
    ingested_at: Any
    root_path: str


class Catalog:
    """An observation catalogue in SQLite or PostgreSQL.

    Parameters
    ----------
    url : str, optional
        Database URL; defaults to ``$OBSCAT_DB_URL`` or ``sqlite:///obscat.db``.
        A new (empty) database is created at the current schema; one at an
        older schema revision is refused until ``obscat db upgrade`` is run.

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
    def session(self) -> Iterator[Session]:
        """An ORM session in one transaction: committed on success, else rolled back."""
        with write_transaction(self.engine) as conn, Session(bind=conn, expire_on_commit=False) as session:
            yield session
            session.flush()

    def ingest(
        self,
        path: str | os.PathLike | None = None,
        *,
        obs_index: str | os.PathLike | None = None,
        hdu_index: str | os.PathLike | None = None,
        name: str | None = None,
        replace: bool = False,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Ingest a GADF data store; see :func:`obscat.store.ingest.ingest` (``replace``: a store of
        this name ingested from other index files)."""
        from .store.ingest import ingest

        if path is not None:
            path = os.path.expandvars(os.fspath(path))
        return ingest(self.engine, path, obs_index=obs_index, hdu_index=hdu_index, name=name, replace=replace,
                      progress=progress)  # fmt: skip

    def stores(self) -> list[StoreSummary]:
        """Every ingested store with its counts, by name."""
        o, h, f, s = (m.__table__ for m in (Observation, Hdu, HduFile, DataStore))
        n_obs = sa.select(sa.func.count()).where(o.c.store_id == s.c.id).scalar_subquery()
        n_hdu = (  # through the files (10 per 10^6 observations, say), not every observation
            sa.select(sa.func.count()).where(h.c.file_id.in_(sa.select(f.c.id).where(f.c.store_id == s.c.id)))
            .scalar_subquery()
        )  # fmt: skip
        n_files = sa.select(sa.func.count()).where(f.c.store_id == s.c.id).scalar_subquery()
        n_missing = (
            sa.select(sa.func.count()).where(f.c.store_id == s.c.id, f.c.exists_at_ingest.is_(False))
            .scalar_subquery()
        )  # fmt: skip
        first = sa.select(sa.func.min(o.c.tstart_utc)).where(o.c.store_id == s.c.id).scalar_subquery()
        last = sa.select(sa.func.max(o.c.tstop_utc)).where(o.c.store_id == s.c.id).scalar_subquery()
        query = sa.select(
            s.c.name, n_obs, n_hdu, n_files, n_missing, s.c.telescope, first, last, s.c.ingested_at, s.c.root_path
        ).order_by(s.c.name)
        with connect(self.engine) as conn:
            return [StoreSummary(*row) for row in conn.execute(query)]

    def remove_store(self, name: str) -> StoreRemoval:
        """Delete a store and everything that depends on it; say what went (groupings that lost
        members count them in ``members_removed``, as after a re-ingest)."""
        from .store.derived import StoreRemoval, remove_observations

        with write_transaction(self.engine) as conn:
            store = store_id(conn, name)
            o = Observation.__table__
            n = conn.execute(sa.select(sa.func.count()).where(o.c.store_id == store)).scalar_one()
            derived = remove_observations(conn, o.c.store_id == store)
            conn.execute(sa.delete(DataStore.__table__).where(DataStore.__table__.c.id == store))
        return StoreRemoval(name, n, derived)

    def check(self, store: str | None = None) -> CheckReport:
        """Compare the data and index files of ``store`` (default: every store) with what was
        recorded at ingest, and count stale derived results; writes nothing. See :mod:`obscat.store.check`."""
        from .store.check import check

        return check(self.engine, store)

    def observation_rows(
        self, store: str | None = None, columns: Sequence[str] | None = None, selection=None
    ) -> tuple[list[str], list[tuple]]:
        """Column names (``store`` first) and rows of the observations, by store and OBS_ID
        (only those a :mod:`obscat.query.selection` criterion keeps, if given)."""
        names = list(columns or OBSERVATION_COLUMNS)
        unknown = [c for c in names if c not in OBSERVATION_COLUMNS]
        if unknown:
            raise InputError(f"unknown observation column {unknown[0]!r}{did_you_mean(unknown[0], OBSERVATION_COLUMNS)}")
        o, s = Observation.__table__, DataStore.__table__
        query = (
            sa.select(s.c.name.label("store"), *(observation_column(c) for c in names))
            .join_from(o, s, o.c.store_id == s.c.id)
            .order_by(s.c.name, o.c.obs_id)
        )
        if selection is not None:
            query = query.where(selection.clause())
        with connect(self.engine) as conn:
            if store is not None:
                query = query.where(o.c.store_id == store_id(conn, store))
            rows = [tuple(row) for row in conn.execute(query)]
            if not rows:
                explain_empty(conn, _criterion(selection))
            return ["store", *names], rows

    def select(self, selection, store: str | None = None) -> list[tuple[str, int]]:
        """``(store, obs_id)`` of the observations a selection keeps, by store and OBS_ID.

        ``selection`` is a :mod:`obscat.query.selection` criterion, or Gammapy
        ``select_observations`` dicts (one, or a list meaning AND).
        """
        criterion = _criterion(selection)
        o, s = Observation.__table__, DataStore.__table__
        query = (
            sa.select(s.c.name, o.c.obs_id).join_from(o, s, o.c.store_id == s.c.id)
            .where(criterion.clause()).order_by(s.c.name, o.c.obs_id)
        )  # fmt: skip
        with connect(self.engine) as conn:
            if store is not None:
                query = query.where(s.c.id == store_id(conn, store))
            rows = [tuple(row) for row in conn.execute(query)]
            if not rows:
                explain_empty(conn, criterion)
            return rows

    def left_out_without_pointing(self, selection) -> int:
        """How many observations without a sky pointing (NULL RA_PNT/DEC_PNT, e.g. ground arrays in
        DRIFT mode) a selection left out only because of its cones (0 if it has no cone)."""
        from .query.selection import Cone

        return self._left_out(selection, Cone, Observation.__table__.c.ra_pnt_deg)

    def left_out_without_times(self, selection) -> int:
        """How many observations without times (NULL TSTART/TSTOP and no GTI or EVENTS times) a
        selection left out only because of its time ranges (0 if it has none)."""
        from .query.selection import TimeRange

        return self._left_out(selection, TimeRange, Observation.__table__.c.tstart_mjd)

    def _left_out(self, selection, kind, column) -> int:
        from .query.selection import without

        criterion = _criterion(selection)
        loosened = without(criterion, kind)
        if loosened is None:
            return 0
        query = sa.select(sa.func.count()).select_from(Observation.__table__).where(
            column.is_(None), loosened.clause(), sa.not_(sa.func.coalesce(criterion.clause(), sa.false()))
        )
        with connect(self.engine) as conn:
            return conn.execute(query).scalar_one()

    def group(self, name: str, method: str, column: str, *, at: str = "median", edges=None, selection=None,
              replace: bool = False):  # fmt: skip
        """Group the selected observations by ``column`` and store it; see :mod:`obscat.group.grouping`.

        ``method`` is ``"split"`` (at ``"median"``, a value or ``"q:0.25,0.5"``),
        ``"bins"`` (``edges``) or ``"by"``.  Returns a
        :class:`~obscat.group.grouping.GroupingResult` (``.labels``, ``.groups``, ``.to_table()``).
        """
        from .group import grouping

        selection = _criterion(selection)
        if method == "split":
            return grouping.split(self.engine, name, column, str(at), selection, replace=replace)
        if method == "bins":
            return grouping.bins(self.engine, name, column, edges or [], selection, replace=replace)
        if method == "by":
            return grouping.by(self.engine, name, column, selection, replace=replace)
        raise InputError(f"unknown grouping method {method!r} (split, bins, by)")

    def cluster(
        self,
        name: str,
        features: Sequence[str],
        *,
        feature_set: str | None = None,
        energy_true=None,
        position=None,
        fixed_offset=None,
        containment_fraction: float = 0.68,
        selection=None,
        n_groups: int | None = None,
        max_distance: float | None = None,
        inconsistent: float | None = None,
        max_spread: dict | None = None,
        standardize: str = "zscore",
        method: str = "ward",
        replace: bool = False,
        workers: int | None = None,
        progress=None,
    ):
        """Cluster the selected observations on IRF features and store the groups; see
        :func:`obscat.group.grouping.cluster`.

        The features come from the stored ``feature_set``, or are computed (once, then
        reused) with ``energy_true``, ``position``/``fixed_offset`` and
        ``containment_fraction``.  Returns a :class:`~obscat.group.grouping.GroupingResult`.
        """
        from .group import grouping

        selection = _criterion(selection)
        if (feature_set is None) == (energy_true is None):
            raise InputError("give a stored feature set or the true energy to compute one at")
        options = dict(n_groups=n_groups, max_distance=max_distance, inconsistent=inconsistent,
                       max_spread=max_spread, standardize=standardize, method=method, replace=replace)  # fmt: skip
        if feature_set is not None:
            return grouping.cluster(self.engine, name, feature_set, features, selection, **options)
        # computed features and the grouping are written in one transaction: a refused clustering writes neither
        *_, result = self._compute(
            energy_true, features=list(dict.fromkeys([*features, *(max_spread or {})])), position=position,
            fixed_offset=fixed_offset, containment_fraction=containment_fraction, selection=selection,
            workers=workers, missing_only=True, progress=progress,
            then=lambda conn, set_name: grouping.cluster(conn, name, set_name, features, selection, **options),
        )  # fmt: skip
        return result

    def observations(self, store: str | None = None, columns: Sequence[str] | None = None) -> Table:
        """The observations as an astropy Table, with each column's unit."""
        from .formats import to_table

        names, rows = self.observation_rows(store, columns)
        return to_table(names, rows)

    def observation(self, obs_id: int, store: str | None = None) -> Observation:
        """One observation (with its store and HDUs loaded) by OBS_ID.

        ``store`` is needed only when the OBS_ID exists in several stores.
        """
        with Session(self.engine) as session:
            if store is not None:
                store_id(session.connection(), store)
            query = (
                sa.select(Observation).join(Observation.store).where(Observation.obs_id == obs_id)
                .options(selectinload(Observation.hdus), selectinload(Observation.store))
            )  # fmt: skip
            if store is not None:
                query = query.where(DataStore.name == store)
            found = session.scalars(query).all()
            if not found and (error := empty_catalog_error(session.connection())):
                raise error
        if not found:
            where = f" in store {store!r}" if store is not None else ""
            raise NotFoundError(f"no observation with OBS_ID {obs_id}{where}")
        if len(found) > 1:
            names = ", ".join(sorted(o.store.name for o in found))
            raise InputError(f"OBS_ID {obs_id} exists in stores {names}: pass --store")
        return found[0]

    def compute_features(
        self,
        energy_true,
        *,
        features: Sequence[str] | None = None,
        position=None,
        fixed_offset=None,
        containment_fraction: float = 0.68,
        aeff_threshold_fraction: float = 0.1,
        psf_containment: str = "gammapy",
        store: str | None = None,
        obs_ids: Sequence[int] | None = None,
        selection=None,
        workers: int | None = None,
        strict: bool = False,
        missing_only: bool = False,
        progress=None,
    ) -> Table:
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
        """
        name, n_computed, n_kept, _ = self._compute(
            energy_true, features=features, position=position, fixed_offset=fixed_offset,
            containment_fraction=containment_fraction, aeff_threshold_fraction=aeff_threshold_fraction,
            psf_containment=psf_containment, store=store,
            obs_ids=obs_ids, selection=selection, workers=workers, strict=strict, missing_only=missing_only,
            progress=progress,
        )  # fmt: skip
        table = self.feature_table(name, obs_ids=obs_ids, store=store)
        if selection is not None:
            keep = set(self.select(selection))
            table = table[[(s, o) in keep for s, o in zip(table["store"], table["obs_id"])]]
        table.meta["n_computed"] = n_computed
        table.meta["n_kept"] = n_kept
        return table

    def _compute(self, energy_true, *, features=None, position=None, fixed_offset=None,
                 containment_fraction: float = 0.68, aeff_threshold_fraction: float = 0.1,
                 psf_containment: str = "gammapy", workers=None, selection=None, **options):  # fmt: skip
        """Check the parameters and run :func:`obscat.compute.features.compute_features` (its result triple)."""
        from astropy import units as u

        from .compute.features import DEFAULT_FEATURES, FeatureParams, compute_features, default_workers

        try:
            energy = u.Quantity(energy_true).to_value(u.TeV)
        except (TypeError, ValueError, u.UnitsError):
            raise InputError(f"true energy {str(energy_true)!r} is not an energy (e.g. '1 TeV')") from None
        try:
            offset = None if fixed_offset is None else u.Quantity(fixed_offset, u.deg).to_value(u.deg)
        except (TypeError, ValueError, u.UnitsError):
            raise InputError(f"offset {str(fixed_offset)!r} is not an angle") from None
        radec = None
        if position is not None:
            icrs = position.icrs
            radec = (float(icrs.ra.deg), float(icrs.dec.deg))
        params = FeatureParams(
            energy_true_tev=energy, features=tuple(features or DEFAULT_FEATURES), position=radec,
            fixed_offset_deg=offset, containment_fraction=containment_fraction,
            aeff_threshold_fraction=aeff_threshold_fraction, psf_containment=psf_containment,
        )  # fmt: skip
        return compute_features(self.engine, params, selection=None if selection is None else _criterion(selection),
                                workers=workers or default_workers(), **options)  # fmt: skip

    def feature_table(self, name: str, *, obs_ids: Sequence[int] | None = None, store: str | None = None) -> Table:
        """A stored feature set as an astropy Table (``store``, ``obs_id``, one column per feature)."""
        from .formats import to_table
        from .compute.feature_sets import feature_table

        names, rows, units = feature_table(self.engine, name)
        if obs_ids is not None:
            wanted = {int(i) for i in obs_ids}
            rows = [r for r in rows if r[1] in wanted]
        if store is not None:
            rows = [r for r in rows if r[0] == store]
        table = to_table(names, rows)
        for feature, unit in units.items():
            table[feature].unit = unit or None
        table.meta["feature_set"] = name
        return table


def _criterion(selection):
    """A selection criterion from one, Gammapy ``select_observations`` dicts, or None (all)."""
    from .query.selection import And, Criterion, from_gammapy

    if selection is None:
        return And(())
    return selection if isinstance(selection, Criterion) else from_gammapy(selection)
