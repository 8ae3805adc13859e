"""Storing evaluated feature rows: the feature set's row, and the values of a batch of
observations written idempotently (a batch written twice leaves one copy)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .._version import __version__
from ..store.file_versions import record_uses
from ..store.models import FeatureSet, FeatureValue
from ..store.rows import bulk_insert, by_index, check_observations_unchanged, ids_condition, param_mark
from .feature_eval import FeatureRow
from .feature_params import FeatureParams
from .feature_tasks import Task

__all__ = ["feature_set_row", "write_values"]

_VALUE_COLUMNS = ["feature_set_id", "observation_id", "feature", "value", "unit", "null_reason", "offset_deg"]


def write_values(conn: Connection, params: FeatureParams, tasks: Sequence[Task], rows: Sequence[FeatureRow],
                 versions: dict[str, tuple]) -> tuple[int, str]:  # fmt: skip
    """Store ``rows``, the feature rows of ``tasks``, in the set of ``params`` (created if missing),
    replacing what it held for those observations, with the ``versions`` of the files they were
    read from; ``(set id, set name)``. Refused if an observation was replaced meanwhile."""
    with by_index(conn):
        check_observations_unchanged(conn, ((t.observation_id, t.obs_id) for t in tasks))
        set_id, name = feature_set_row(conn, params)
        delete_values(conn, set_id, [t.observation_id for t in tasks])
        bulk_insert(conn, FeatureValue.__table__, _VALUE_COLUMNS, ((set_id, *row) for row in rows))
        record_uses(conn, set_id, {t.observation_id: t.files for t in tasks}, versions)
    return set_id, name


def delete_values(conn: Connection, set_id: int, observation_ids: Sequence[int]) -> None:
    """Delete the values the set holds for ``observation_ids`` (one statement)."""
    condition, ids = ids_condition(conn, "observation_id", observation_ids)
    # "+": found through the observations' index; a planner unaware of a new set's rows would
    # otherwise find them by the set alone and filter all of them, for each batch
    conn.exec_driver_sql(f"DELETE FROM feature_value WHERE +feature_set_id = {param_mark(conn)} AND {condition}",
                         (set_id, ids))  # fmt: skip


def feature_set_row(conn: Connection, params: FeatureParams) -> tuple[int, str]:
    """The id and name of the set of ``params``, created if missing (its parameters and time updated if not)."""
    table = FeatureSet.__table__
    digest = params.sha256
    row = conn.execute(sa.select(table.c.id, table.c.name).where(table.c.params_sha256 == digest)).first()
    values = {
        "params": params.canonical(),
        "energy_true_tev": params.energy_true_tev,
        "position_ra_deg": params.position[0] if params.position else None,
        "position_dec_deg": params.position[1] if params.position else None,
        "fixed_offset_deg": params.fixed_offset_deg,
        "containment_fraction": params.containment_fraction,
        "aeff_threshold_fraction": params.aeff_threshold_fraction,
        "created_at": dt.datetime.now(dt.UTC),
        "obscat_version": __version__,
    }
    if row is not None:
        conn.execute(sa.update(table).where(table.c.id == row.id).values(**values))
        return row.id, row.name
    name = f"fs-{digest[:8]}"
    set_id = conn.execute(sa.insert(table).values(name=name, params_sha256=digest, **values).returning(table.c.id)).scalar_one()
    return set_id, name
