"""Stored feature sets read and deleted: their rows (pivoted and filtered in SQL), their list with
counts.

Kept apart from :mod:`obscat.compute.features` (which computes them) so that reading a set imports
no IRF code (``obscat features show`` starts in a fraction of the time).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..results import FeatureSetRemoval, FeatureSetSummary
from ..store.engine import connect, write_transaction
from ..store.file_versions import stale_value_count
from ..store.models import DataStore, FeatureSet, FeatureValue, Observation
from ..store.rows import id_by_name, store_id

if TYPE_CHECKING:
    from ..formats import RowStream

__all__ = ["feature_query", "feature_stream", "feature_sets", "delete_feature_set"]


def feature_query(conn: Connection, name: str, *, store: str | None = None, obs_ids: Sequence[int] | None = None,
                  selection=None) -> tuple[sa.Select, dict[str, str | None]]:  # fmt: skip
    """The query of a feature set's rows (``store``, ``obs_id``, one column per feature, by store and
    OBS_ID), pivoted and filtered (by store name, OBS_IDs, a selection criterion) in SQL; and each
    feature's unit."""
    v, o, s = FeatureValue.__table__, Observation.__table__, DataStore.__table__
    set_id = id_by_name(conn, FeatureSet.__table__, name, "feature set")
    units = dict(conn.execute(sa.select(v.c.feature, sa.func.max(v.c.unit)).where(v.c.feature_set_id == set_id)
                              .group_by(v.c.feature).order_by(v.c.feature)).all())  # fmt: skip
    query = (
        sa.select(s.c.name.label("store"), o.c.obs_id,
                  *(sa.func.max(sa.case((v.c.feature == f, v.c.value))).label(f) for f in units))
        .join_from(v, o, v.c.observation_id == o.c.id).join(s, s.c.id == o.c.store_id)
        .where(v.c.feature_set_id == set_id).group_by(o.c.id, s.c.name, o.c.obs_id).order_by(s.c.name, o.c.obs_id)
    )  # fmt: skip
    if store is not None:
        query = query.where(o.c.store_id == store_id(conn, store))
    if obs_ids is not None:
        query = query.where(o.c.obs_id.in_(sorted({int(i) for i in obs_ids})))
    if selection is not None:
        query = query.where(selection.clause())
    return query, units


def feature_stream(engine: Engine, name: str, **filters) -> RowStream:
    """``store``, ``obs_id`` and one column per feature of a set, with units, as a
    :class:`~obscat.formats.RowStream`; ``filters`` as :func:`feature_query`'s."""
    from ..formats import RowStream
    from ..store.stream import count_rows, open_rows

    with connect(engine) as conn:
        query, units = feature_query(conn, name, **filters)
    return RowStream(["store", "obs_id", *units], {"store": None, "obs_id": None, **{f: u or None for f, u in units.items()}},
                     open_rows(engine, query), lambda: count_rows(engine, query))  # fmt: skip


def feature_sets(engine: Engine) -> list[FeatureSetSummary]:
    """Every stored set, oldest first: its parameters, observation count, NULL count, stale count
    (values computed from files that changed since), version, created_at."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    t, v = FeatureSet.__table__, FeatureValue.__table__
    n_obs = sa.select(sa.func.count(sa.distinct(v.c.observation_id))).where(v.c.feature_set_id == t.c.id).scalar_subquery()
    n_null = sa.select(sa.func.count()).where(v.c.feature_set_id == t.c.id, v.c.value.is_(None)).scalar_subquery()
    out = []
    with connect(engine) as conn:
        for r in conn.execute(sa.select(
            t.c.id, t.c.name, t.c.energy_true_tev, t.c.position_ra_deg, t.c.position_dec_deg, t.c.fixed_offset_deg,
            t.c.containment_fraction, n_obs.label("n_obs"), n_null.label("n_null"), t.c.obscat_version, t.c.created_at,
        ).order_by(t.c.id)).all():  # fmt: skip
            position = None if r.position_ra_deg is None else SkyCoord(r.position_ra_deg, r.position_dec_deg,
                                                                         unit="deg", frame="icrs")  # fmt: skip
            offset = None if r.fixed_offset_deg is None else r.fixed_offset_deg * u.deg
            out.append(FeatureSetSummary(r.name, r.energy_true_tev * u.TeV, position, offset, r.containment_fraction,
                                         r.n_obs, r.n_null, stale_value_count(conn, r.id), r.obscat_version,
                                         r.created_at))  # fmt: skip
    return out


def delete_feature_set(engine: Engine, name: str) -> FeatureSetRemoval:
    """Delete a feature set and its values."""
    sets, values = FeatureSet.__table__, FeatureValue.__table__
    with write_transaction(engine) as conn:
        set_id = id_by_name(conn, sets, name, "feature set")
        n_obs, n_values = conn.execute(sa.select(sa.func.count(sa.distinct(values.c.observation_id)), sa.func.count())
                                       .where(values.c.feature_set_id == set_id)).one()  # fmt: skip
        conn.execute(sa.delete(sets).where(sets.c.id == set_id))
    return FeatureSetRemoval(name, n_obs, n_values)
