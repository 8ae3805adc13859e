"""Planning offline feature shards: the selected observations split into N manifests for batch
jobs without database access (docs/shards.md)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import InputError, ParameterError
from ..query.criteria import Criterion
from ..results import ShardPlan
from ..store.engine import connect
from ..store.file_versions import read_versions
from ..store.models import DataStore, Observation
from .feature_params import FeatureParams
from .feature_tasks import Task, pending_tasks
from .shard_files import manifest_name, now_utc, write_manifest

__all__ = ["plan_shards", "split_tasks"]


def plan_shards(engine: Engine, params: FeatureParams, out_dir: str | os.PathLike, shards: int, *, store: str | None = None,
                obs_ids: Sequence[int] | None = None, selection: Criterion | None = None,
                missing_only: bool = False) -> ShardPlan:  # fmt: skip
    """Write ``shards`` manifests to ``out_dir`` for the selected observations (with ``missing_only``,
    those the set of ``params`` does not hold or holds stale, as :func:`.features.compute_features`)."""
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise ParameterError(f"`shards` must be a positive number of shards, not {shards!r}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ParameterError(f"`out_dir` {out} is not a directory")
    old = sorted(out.glob("shard-*-of-*.json")) if out.is_dir() else []
    if old:
        raise ParameterError(f"`out_dir` {out} already holds manifests ({old[0].name}): give an empty directory")
    tasks, kept = pending_tasks(engine, params, store, obs_ids, selection, missing_only)
    stores = _store_names(engine, [t.observation_id for t in tasks])
    versions = read_versions({t.observation_id: t.files for t in tasks})
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out}: cannot create the directory ({exc.strerror or exc})") from None
    planned_at, paths = now_utc(), []
    for i, part in enumerate(split_tasks(tasks, shards), 1):
        paths.append(out / manifest_name(i, shards))
        write_manifest(paths[-1], params, part, stores, versions, i, shards, planned_at)
    return ShardPlan(tuple(paths), len(tasks), len(kept), params.sha256)


def split_tasks(tasks: Sequence[Task], shards: int) -> list[list[Task]]:
    """``tasks`` in ``shards`` parts of at most ``ceil(n / shards)``: observations that share a file
    (through any chain of files) in one part unless that group is larger than a part; biggest groups
    first, each into the emptiest part. Each part is ordered as ``tasks``."""
    groups = _sharing_groups(tasks)
    size = max(1, math.ceil(len(tasks) / shards))
    parts: list[list[Task]] = [[] for _ in range(shards)]
    for group in sorted(groups, key=len, reverse=True):
        while group:
            part = min(parts, key=len)
            if len(part) + len(group) > size:  # too big for the emptiest part: fill it, the rest goes on
                room = size - len(part)
                part.extend(group[:room])
                group = group[room:]
            else:
                part.extend(group)
                group = []
    order = {t.observation_id: i for i, t in enumerate(tasks)}
    return [sorted(part, key=lambda t: order[t.observation_id]) for part in parts]


def _sharing_groups(tasks: Sequence[Task]) -> list[list[Task]]:
    """The tasks in groups connected by the files they read (union-find over files)."""
    parent: dict[str, str] = {}

    def root(path: str) -> str:
        while parent.setdefault(path, path) != path:
            parent[path] = parent[parent[path]]
            path = parent[path]
        return path

    for task in tasks:
        files = task.files
        for other in files[1:]:
            parent[root(other)] = root(files[0])
    groups: dict[str | int, list[Task]] = {}
    for task in tasks:
        files = task.files
        groups.setdefault(root(files[0]) if files else task.observation_id, []).append(task)
    return list(groups.values())


def _store_names(engine: Engine, observation_ids: list[int]) -> dict[int, str]:
    o, s = Observation.__table__, DataStore.__table__
    query = sa.select(o.c.id, s.c.name).join_from(o, s, o.c.store_id == s.c.id)
    wanted = set(observation_ids)
    with connect(engine) as conn:
        return {i: name for i, name in conn.execute(query) if i in wanted}
