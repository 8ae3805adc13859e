"""Rows of the observations a selection keeps, and what it left out for lack of a pointing or times."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..errors import ParameterError, did_you_mean
from ..results import LeftOut
from ..store.engine import reading
from ..store.models import OBSERVATION_COLUMNS, POINTING_COLUMNS, DataStore, Observation, Pointing
from ..store.rows import store_id
from .annotations import Annotation, bound_annotations
from .cone import Cone
from .criteria import Criterion, TimeRange
from .explain import explain_empty, no_observation_error, without

if TYPE_CHECKING:
    from ..formats import RowStream

__all__ = ["OBSERVATION_COLUMNS", "observation_stream", "left_out", "require_observations"]

def observation_stream(engine: Engine, names: Sequence[str], selection: Criterion,
                       store: str | None = None) -> RowStream:  # fmt: skip
    """``store`` and ``names`` of the observations ``selection`` keeps (of ``store`` only, if given),
    by store and OBS_ID, as a :class:`~obscat.formats.RowStream`; an empty result raises why, if it
    is not the criteria's values."""
    from ..formats import RowStream, column_unit
    from ..store.stream import count_rows, open_rows

    unknown = [c for c in names if c not in OBSERVATION_COLUMNS]
    if unknown:
        raise ParameterError(f"unknown observation column {unknown[0]!r}{did_you_mean(unknown[0], OBSERVATION_COLUMNS)}")
    o, s, p = Observation.__table__, DataStore.__table__, Pointing.__table__
    query = (
        sa.select(s.c.name.label("store"), *(p.c[c] if c in POINTING_COLUMNS else o.c[c] for c in names))
        .join_from(o, s, o.c.store_id == s.c.id).where(selection.clause()).order_by(s.c.name, o.c.obs_id)
    )  # fmt: skip
    if any(c in POINTING_COLUMNS for c in names):
        query = query.outerjoin(p, p.c.observation_id == o.c.id)
    if store is not None:
        with reading(engine) as conn:
            query = query.where(o.c.store_id == store_id(conn, store))
    rows = open_rows(engine, query, on_empty=lambda conn: explain_empty(conn, selection))
    columns = ["store", *names]
    return RowStream(columns, {n: column_unit(n) for n in columns}, rows, lambda: count_rows(engine, query))


def require_observations(engine: Engine, selection: Criterion) -> None:
    """Raise why ``selection`` keeps no observation (:func:`~.explain.no_observation_error`), if it keeps none."""
    with reading(engine) as conn:
        if conn.execute(sa.select(Observation.__table__.c.id).where(selection.clause()).limit(1)).first() is None:
            raise no_observation_error(conn, selection)


def left_out(bind: Engine | Connection, selection: Criterion) -> LeftOut:
    """How many observations ``selection`` left out only because of its cones (no sky pointing),
    only because of its time ranges (no times), and per annotation set it used, for want of a row."""
    o = Observation.__table__
    with reading(bind) as conn:
        # no pointing ⇔ sky_zone NULL (sky_derived), found through the (sky_zone, ra) index, not a scan
        without_pointing, without_times = (_left_out(conn, selection, kind, column)
                                           for kind, column in ((Cone, o.c.sky_zone), (TimeRange, o.c.tstart_mjd)))  # fmt: skip
        return LeftOut(without_pointing, without_times,
                       tuple((str(used), _without_row(conn, selection, used.table_name))
                             for used in bound_annotations(selection)))  # fmt: skip


def _without_row(conn: Connection, selection: Criterion, table_name: str) -> int:
    """Observations with no row in an annotation set's values table that ``selection`` would keep
    but for its annotation criteria."""
    loosened = without(selection, Annotation)
    values = sa.table(table_name, sa.column("observation_id"))
    o = Observation.__table__
    query = sa.select(sa.func.count()).select_from(o).where(
        o.c.id.not_in(sa.select(values.c.observation_id)), sa.true() if loosened is None else loosened.clause(),
        sa.not_(sa.func.coalesce(selection.clause(), sa.false())),
    )  # fmt: skip
    return conn.execute(query).scalar_one()


def _left_out(conn: Connection, selection: Criterion, kind: type[Criterion], column) -> int:
    loosened = without(selection, kind)
    if loosened is None:
        return 0
    query = sa.select(sa.func.count()).select_from(Observation.__table__).where(
        column.is_(None), loosened.clause(), sa.not_(sa.func.coalesce(selection.clause(), sa.false()))
    )
    return conn.execute(query).scalar_one()
