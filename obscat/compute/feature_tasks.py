"""Which observations a feature computation covers: each selected observation with the IRF HDUs
its features need (a :class:`Task`), and those a stored feature set already holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import NotFoundError
from ..query.criteria import And, Criterion
from ..query.explain import no_observation_error
from ..store.engine import connect
from ..store.file_versions import gone_observations, stale_observations
from ..store.models import DataStore, FeatureSet, FeatureValue, Hdu, HduFile, Observation
from ..store.rows import store_id
from .feature_names import FEATURES
from .feature_params import FeatureParams

__all__ = ["Task", "MAP_HDU_CLASSES", "select_tasks", "pending_tasks", "computed"]

#: HDU classes of map IRFs (image HDUs, as Gammapy's PSFMap, EDispKernelMap, EDispMap and Map).
MAP_HDU_CLASSES = ("map", "psf_map", "psf_map_reco", "edisp_map", "edisp_kernel_map")


@dataclass
class Task:
    """One observation: where its HDUs are (type -> (class, path, hdu name))."""

    observation_id: int
    obs_id: int
    hdus: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    @property
    def files(self) -> list[str]:
        """The files the observation's features are read from, sorted."""
        return sorted({path for _, path, _ in self.hdus.values()})


def select_tasks(engine: Engine, params: FeatureParams, store: str | None, obs_ids: Sequence[int] | None,
                 selection: Criterion | None = None) -> list[Task]:  # fmt: skip
    """The observations of ``store``, ``obs_ids`` and ``selection`` (all given must hold), each with
    the HDUs the features of ``params`` need; a missing OBS_ID or an empty selection is an error."""
    o, s, h, f = (m.__table__ for m in (Observation, DataStore, Hdu, HduFile))
    obs_ids = None if obs_ids is None else [int(i) for i in obs_ids]
    types = {FEATURES[name][1] for name in params.features}
    psf_for_centre = params.position is None and "edisp" in types and "psf" not in types
    if params.position is not None:
        types.add("events")  # the pointing, from the EVENTS header as Gammapy takes it
    if psf_for_centre:
        types.add("psf")  # an edisp map's default position is the PSF map's centre
    if "rad-max" in params.features:
        types.update({"aeff", "edisp"})  # a point-like IRF may give RAD_MAX as a header constant
    query = (
        sa.select(o.c.id, o.c.obs_id, h.c.hdu_type, h.c.hdu_class, h.c.hdu_name, f.c.path)
        .join_from(o, s, o.c.store_id == s.c.id)
        .outerjoin(h, sa.and_(h.c.observation_id == o.c.id, h.c.hdu_type.in_(sorted(types))))
        .outerjoin(f, f.c.id == h.c.file_id)
        .order_by(o.c.id, h.c.id)
    )
    if store is not None:
        query = query.where(s.c.name == store)
    if obs_ids is not None:
        query = query.where(o.c.obs_id.in_(sorted(set(obs_ids))))
    if selection is not None:
        query = query.where(selection.clause())
    tasks: dict[int, Task] = {}
    with connect(engine) as conn:
        if store is not None:
            store_id(conn, store)  # a named store must exist
        for observation_id, obs_id, hdu_type, hdu_class, hdu_name, path in conn.execute(query):
            task = tasks.setdefault(observation_id, Task(observation_id, obs_id))
            if hdu_type is not None:
                task.hdus.setdefault(hdu_type, (hdu_class, path, hdu_name))  # the first row wins
    if psf_for_centre:  # only edisp maps need it
        for task in tasks.values():
            if task.hdus.get("edisp", ("",))[0] not in MAP_HDU_CLASSES:
                task.hdus.pop("psf", None)
    if obs_ids is not None:
        missing = sorted(set(obs_ids) - {t.obs_id for t in tasks.values()})
        if missing:
            raise NotFoundError(f"no observation with OBS_ID {', '.join(map(str, missing[:10]))}")
    if not tasks:
        with connect(engine) as conn:
            raise no_observation_error(conn, selection if selection is not None else And(()))
    return list(tasks.values())


def pending_tasks(engine: Engine, params: FeatureParams, store: str | None, obs_ids: Sequence[int] | None,
                  selection: Criterion | None, missing_only: bool) -> tuple[list[Task], set[int]]:  # fmt: skip
    """The tasks of :func:`select_tasks`, with ``missing_only`` only those the set of ``params``
    does not hold or holds stale; and the selected observations whose stale values are kept
    because a file they were computed from has gone (see :func:`computed`)."""
    tasks = select_tasks(engine, params, store, obs_ids, selection)
    if not missing_only:
        return tasks, set()
    done, kept = computed(engine, params)
    return [t for t in tasks if t.observation_id not in done], kept & {t.observation_id for t in tasks}


def computed(engine: Engine, params: FeatureParams) -> tuple[set[int], set[int]]:
    """Observation ids for which the set of ``params`` holds every feature (NULL or not), not stale or
    stale only because a file they were read from has gone; and those kept for that reason."""
    fs, v = FeatureSet.__table__, FeatureValue.__table__
    query = (
        sa.select(v.c.observation_id).join_from(v, fs, fs.c.id == v.c.feature_set_id)
        .where(fs.c.params_sha256 == params.sha256).group_by(v.c.observation_id)
        .having(sa.func.count() == len(params.features))
    )  # fmt: skip
    with connect(engine) as conn:
        done = set(conn.execute(query).scalars())
        set_id = conn.execute(sa.select(fs.c.id).where(fs.c.params_sha256 == params.sha256)).scalar()
        if not done:
            return done, set()
        stale = stale_observations(conn, set_id, done)
        kept = gone_observations(conn, set_id, stale) if stale else set()
        return done - (stale - kept), kept
