"""Rows of the observations a selection keeps, and what it left out for lack of a pointing or times."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..errors import ParameterError, did_you_mean
from ..results import LeftOut
from ..store.db import reading, store_id
from ..store.models import OBSERVATION_COLUMNS, DataStore, Observation, observation_column
from .cone import Cone
from .criteria import Criterion, TimeRange
from .explain import explain_empty, without
from .gammapy import as_criterion

__all__ = ["OBSERVATION_COLUMNS", "criterion", "observation_rows", "left_out"]

def criterion(selection) -> Criterion:
    """A criterion from one, Gammapy ``select_observations`` dicts (one, or a list meaning AND),
    or None (every observation)."""
    return as_criterion(selection)


def observation_rows(bind: Engine | Connection, names: Sequence[str], selection: Criterion,
                     store: str | None = None) -> list[tuple]:  # fmt: skip
    """``(store, *names)`` of the observations ``selection`` keeps (of ``store`` only, if given),
    by store and OBS_ID; an empty result raises why, if it is not the criteria's values."""
    unknown = [c for c in names if c not in OBSERVATION_COLUMNS]
    if unknown:
        raise ParameterError(f"unknown observation column {unknown[0]!r}{did_you_mean(unknown[0], OBSERVATION_COLUMNS)}")
    o, s = Observation.__table__, DataStore.__table__
    query = (
        sa.select(s.c.name, *(observation_column(c) for c in names))
        .join_from(o, s, o.c.store_id == s.c.id)
        .where(selection.clause()).order_by(s.c.name, o.c.obs_id)
    )  # fmt: skip
    with reading(bind) as conn:
        if store is not None:
            query = query.where(o.c.store_id == store_id(conn, store))
        rows = [tuple(row) for row in conn.execute(query)]
        if not rows:
            explain_empty(conn, selection)
    return rows


def left_out(bind: Engine | Connection, selection: Criterion) -> LeftOut:
    """How many observations ``selection`` left out only because of its cones (no sky pointing)
    and only because of its time ranges (no times)."""
    o = Observation.__table__
    with reading(bind) as conn:
        return LeftOut(*(_left_out(conn, selection, kind, column)
                         for kind, column in ((Cone, o.c.ra_pnt_deg), (TimeRange, o.c.tstart_mjd))))  # fmt: skip


def _left_out(conn: Connection, selection: Criterion, kind: type[Criterion], column) -> int:
    loosened = without(selection, kind)
    if loosened is None:
        return 0
    query = sa.select(sa.func.count()).select_from(Observation.__table__).where(
        column.is_(None), loosened.clause(), sa.not_(sa.func.coalesce(selection.clause(), sa.false()))
    )
    return conn.execute(query).scalar_one()
