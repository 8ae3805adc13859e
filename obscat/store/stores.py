"""Ingested data stores as a whole: their counts, and removing one with what depends on it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..results import StoreSummary
from .derived import StoreRemoval, remove_observations
from .engine import connect, write_transaction
from .models import DataStore, Hdu, HduFile, Observation
from .rows import store_id

__all__ = ["store_summaries", "remove_store"]


def store_summaries(engine: Engine) -> list[StoreSummary]:
    """Every ingested store with its counts, by name."""
    o, h, f, s = (m.__table__ for m in (Observation, Hdu, HduFile, DataStore))
    n_obs = sa.select(sa.func.count()).where(o.c.store_id == s.c.id).scalar_subquery()
    n_hdu = (
        sa.select(sa.func.count()).select_from(h.join(o, h.c.observation_id == o.c.id))
        .where(o.c.store_id == s.c.id).scalar_subquery()
    )  # fmt: skip
    n_files = sa.select(sa.func.count()).where(f.c.store_id == s.c.id).scalar_subquery()
    n_missing = (
        sa.select(sa.func.count()).where(f.c.store_id == s.c.id, f.c.exists_at_ingest.is_(False))
        .scalar_subquery()
    )  # fmt: skip
    first = sa.select(sa.func.min(o.c.tstart_utc)).where(o.c.store_id == s.c.id).scalar_subquery()
    last = sa.select(sa.func.max(o.c.tstop_utc)).where(o.c.store_id == s.c.id).scalar_subquery()
    query = sa.select(
        s.c.name, n_obs.label("n_obs"), n_hdu.label("n_hdu"), n_files.label("n_files"),
        n_missing.label("n_missing_files"), s.c.telescope, first.label("first_utc"), last.label("last_utc"),
        s.c.ingested_at, s.c.root_path,
    ).order_by(s.c.name)  # fmt: skip
    with connect(engine) as conn:
        return [StoreSummary(**row._mapping) for row in conn.execute(query)]


def remove_store(engine: Engine, name: str) -> StoreRemoval:
    """Delete a store and everything that depends on it; say what went (groupings that lost
    members count them in ``members_removed``, as after a re-ingest)."""
    with write_transaction(engine) as conn:
        store = store_id(conn, name)
        o = Observation.__table__
        n = conn.execute(sa.select(sa.func.count()).where(o.c.store_id == store)).scalar_one()
        derived = remove_observations(conn, o.c.store_id == store)
        conn.execute(sa.delete(DataStore.__table__).where(DataStore.__table__.c.id == store))
    return StoreRemoval(name, n, derived)
