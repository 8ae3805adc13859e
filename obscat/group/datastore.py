"""Catalogue observations as a Gammapy ``DataStore`` built in memory (the ``gammapy`` extra).

:func:`gammapy_datastore` builds the same obs and HDU index tables that
:mod:`obscat.group.export` writes for a group (:mod:`obscat.group.index_tables`;
FILE_DIR absolute, so each location is an absolute path), from the observation
and HDU rows of a selection or of a stored grouping's group, and hands them to Gammapy as
``DataStore(hdu_table=HDUIndexTable, obs_table=ObservationTable)``: nothing is
written, no index file is read.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import NotFoundError, ObscatError, ParameterError
from ..query.criteria import Criterion
from ..query.explain import explain_empty
from ..store.engine import connect
from ..store.models import Grouping, GroupMember, Observation
from ..store.rows import id_by_name
from .index_tables import fetch_hdus, fetch_members, hdu_index_table, obs_header, obs_index_table, store_rows

__all__ = ["gammapy_datastore"]


def gammapy_datastore(engine: Engine, criterion: Criterion, *, grouping: str | None = None, label: str | None = None):
    """A ``gammapy.data.DataStore`` of the observations ``criterion`` keeps, among the members of
    ``grouping`` (of its group ``label`` only, if given) when a grouping is named.

    The observations must have distinct OBS_IDs and share one time reference, as in
    one GADF data store.
    """
    data = _gammapy_data()
    if label is not None and grouping is None:
        raise ParameterError(f"`label={label!r}` needs `grouping`, the grouping it is a label of")
    o, m = Observation.__table__, GroupMember.__table__
    ids = sa.select(o.c.id).where(criterion.clause())
    with connect(engine) as conn:
        if grouping is None:
            members, what = fetch_members(conn, criterion=criterion), "the selection"
        else:
            grouping_id = id_by_name(conn, Grouping.__table__, grouping, "grouping")
            _check_label(conn, grouping, grouping_id, label)
            members = fetch_members(conn, grouping_id=grouping_id, label=label, criterion=criterion)
            ids = ids.where(o.c.id.in_(sa.select(m.c.observation_id).where(
                m.c.grouping_id == grouping_id, sa.true() if label is None else m.c.label == label)))  # fmt: skip
            what = f"grouping {grouping!r}" + ("" if label is None else f": group {label!r}")
        if not len(members):
            explain_empty(conn, criterion)
            raise NotFoundError(f"{what} holds no observation")
        stores = store_rows(conn, set(members.store.tolist()))
        hdus = fetch_hdus(conn, ids, members)
    obs_table = obs_index_table(members)
    obs_table.meta.update(obs_header(what, members.obs_id, [stores[name] for name in sorted(stores)]))
    hdu_table = hdu_index_table(members, hdus)
    return data.DataStore(hdu_table=data.HDUIndexTable(hdu_table), obs_table=data.ObservationTable(obs_table))


def _check_label(conn, grouping: str, grouping_id: int, label: str | None) -> None:
    if label is None:
        return
    m = GroupMember.__table__
    labels = conn.execute(sa.select(m.c.label).where(m.c.grouping_id == grouping_id).distinct()).scalars().all()
    if label not in labels:
        raise NotFoundError(f"grouping {grouping!r} has no label {label!r} (its labels: {', '.join(sorted(labels))})")


def _gammapy_data():
    """``gammapy.data``, or an error saying how to install it."""
    try:
        import gammapy.data
    except ImportError:
        raise ObscatError("Catalog.datastore needs Gammapy: pip install 'obscat[gammapy]'") from None
    return gammapy.data
