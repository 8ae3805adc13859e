"""The stored good time intervals of the observations a selection keeps, as an astropy Table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..store.engine import reading
from ..store.models import DataStore, GtiInterval, Observation
from .criteria import Criterion
from .observations import require_observations

if TYPE_CHECKING:
    from astropy.table import Table

__all__ = ["gti_table"]


def gti_table(engine: Engine, selection: Criterion) -> Table:
    """One row per GTI row of the selected observations: store, obs_id, start, stop (Time, TT)."""
    from astropy.table import Table
    from astropy.time import Time

    o, s, g = Observation.__table__, DataStore.__table__, GtiInterval.__table__
    query = (sa.select(s.c.name, o.c.obs_id, g.c.start_mjd, g.c.stop_mjd)
             .join_from(g, o, g.c.observation_id == o.c.id).join(s, s.c.id == o.c.store_id)
             .where(selection.clause()).order_by(s.c.name, o.c.obs_id, g.c.seq))  # fmt: skip
    with reading(engine) as conn:
        rows = conn.execute(query).all()
    if not rows:
        require_observations(engine, selection)  # raises why, if the selection keeps none
    stores, obs_ids, starts, stops = (list(c) for c in zip(*rows)) if rows else ([], [], [], [])
    return Table({"store": stores, "obs_id": obs_ids, "start": Time(starts, format="mjd", scale="tt"),
                  "stop": Time(stops, format="mjd", scale="tt")},
                 dtype=[str, "int64", None, None] if rows else None)  # fmt: skip
