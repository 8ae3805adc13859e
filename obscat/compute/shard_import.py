"""Importing offline feature shards into the catalogue: all given shards checked, then written in
one transaction, each observation's values replacing what its set held (docs/shards.md)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from sqlalchemy.engine import Connection, Engine

from ..errors import InputError, ParameterError
from ..results import ShardImport
from ..store.engine import write_transaction
from ..store.rows import ids_condition
from .feature_store import write_values
from .shard_files import Shard, changed_files, read_shard

__all__ = ["import_shards"]


def import_shards(engine: Engine, paths: Sequence[str | os.PathLike]) -> ShardImport:
    """Import the shard tables ``paths``: all or nothing. Refused if a shard is malformed, its
    parameters are not those its sha256 names, a file it was computed from has changed since,
    or one of its observations is no longer in the catalogue."""
    if isinstance(paths, str | os.PathLike) or not paths:
        raise ParameterError("`paths` must be a non-empty list of shard files")
    shards = [read_shard(path) for path in paths]
    for shard in shards:
        changed = changed_files(shard.manifest.versions)
        if changed:
            more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
            raise InputError(f"{shard.path}: {changed[0]}{more} changed since the shard was computed: run its "
                             "manifest again; nothing was imported")  # fmt: skip
    names: dict[str, None] = {}
    with write_transaction(engine) as conn:
        for shard in shards:
            _check_observations(conn, shard)
            manifest = shard.manifest
            names[write_values(conn, manifest.params, manifest.tasks, shard.rows, manifest.versions)[1]] = None
    stored = {(s.manifest.params, t.observation_id) for s in shards for t in s.manifest.tasks}  # a shard given twice: once
    return ShardImport(tuple(names), len(shards), len({i for _, i in stored}), sum(len(p.features) for p, _ in stored))


def _check_observations(conn: Connection, shard: Shard) -> None:
    """Every observation of ``shard`` is still in the catalogue: same id, OBS_ID and store (one query)."""
    expected = {t.observation_id: (t.obs_id, shard.manifest.stores[t.observation_id]) for t in shard.manifest.tasks}
    if not expected:
        return
    condition, ids = ids_condition(conn, "o.id", expected)
    found = {i: (obs_id, store) for i, obs_id, store in conn.exec_driver_sql(
        f"SELECT o.id, o.obs_id, s.name FROM observation o JOIN data_store s ON s.id = o.store_id WHERE {condition}",
        (ids,))}  # fmt: skip
    gone = next((i for i in sorted(expected) if found.get(i) != expected[i]), None)
    if gone is not None:
        obs_id, store = expected[gone]
        raise InputError(f"{shard.path}: observation OBS_ID {obs_id} of store {store!r} is no longer in the "
                         "catalogue (removed or replaced since planning): plan it again; nothing was imported")  # fmt: skip
