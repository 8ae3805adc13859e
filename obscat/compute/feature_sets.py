"""Stored feature sets read and deleted: their tables of values, their list with counts.

Kept apart from :mod:`obscat.compute.features` (which computes them) so that reading
a set imports no IRF code (``obscat features show`` starts in a fraction of the time).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..store.engine import connect, write_transaction
from ..store.file_versions import stale_value_count
from ..store.models import DataStore, FeatureSet, FeatureValue, Observation
from ..store.rows import id_by_name

__all__ = ["delete_feature_set", "feature_sets", "feature_table"]


def feature_table(engine: Engine, name: str) -> tuple[list[str], list[tuple], dict[str, str]]:
    """``obs_id`` and one column per feature of a set: (names, rows, units)."""
    v, o, s = FeatureValue.__table__, Observation.__table__, DataStore.__table__
    with connect(engine) as conn:
        set_id = id_by_name(conn, FeatureSet.__table__, name, "feature set")
        result = conn.execute(
            sa.select(s.c.name, o.c.obs_id, v.c.feature, v.c.value, v.c.unit)
            .join_from(v, o, v.c.observation_id == o.c.id).join(s, s.c.id == o.c.store_id)
            .where(v.c.feature_set_id == set_id).order_by(s.c.name, o.c.obs_id)
        ).all()  # fmt: skip
    features = sorted({r.feature for r in result})
    units = {r.feature: r.unit for r in result}
    table: dict[tuple[str, int], dict[str, float | None]] = {}
    for store, obs_id, feature, value, _ in result:
        table.setdefault((store, obs_id), {})[feature] = value
    rows = [(store, obs_id, *(vals.get(f) for f in features)) for (store, obs_id), vals in table.items()]
    return ["store", "obs_id", *features], rows, units


def feature_sets(engine: Engine) -> list[tuple]:
    """Every stored set: name, parameters, observation count, NULL count, stale count (values
    computed from files that changed since), version, created_at."""
    t, v = FeatureSet.__table__, FeatureValue.__table__
    n_obs = sa.select(sa.func.count(sa.distinct(v.c.observation_id))).where(v.c.feature_set_id == t.c.id).scalar_subquery()
    n_null = sa.select(sa.func.count()).where(v.c.feature_set_id == t.c.id, v.c.value.is_(None)).scalar_subquery()
    out = []
    with connect(engine) as conn:
        for row in conn.execute(sa.select(
            t.c.id, t.c.name, t.c.energy_true_tev, t.c.position_ra_deg, t.c.position_dec_deg, t.c.fixed_offset_deg,
            t.c.containment_fraction, n_obs, n_null, t.c.obscat_version, t.c.created_at,
        ).order_by(t.c.id)).all():  # fmt: skip
            out.append((*row[1:9], stale_value_count(conn, row.id), *row[9:]))
    return out


def delete_feature_set(engine: Engine, name: str) -> None:
    """Delete a feature set and its values."""
    with write_transaction(engine) as conn:
        set_id = id_by_name(conn, FeatureSet.__table__, name, "feature set")
        conn.execute(sa.delete(FeatureSet.__table__).where(FeatureSet.__table__.c.id == set_id))
