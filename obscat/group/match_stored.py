"""Matches as stored groupings: the ON and OFF runs read from the catalogue, paired by
:mod:`obscat.group.match`, written as a grouping of method ``match`` with its pairs
(``match_pair``), and read back.

A match's members are labelled ``on`` (ON runs that got OFF runs), ``off`` (their OFF runs, each
once) and ``unmatched`` (ON runs that did not); ``match_pair`` holds every (ON, OFF) pair with its
rank and distance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from ..errors import InputError, ParameterError
from ..query.canonical import plain
from ..query.columns import EPOCH
from ..query.criteria import Criterion, Or
from ..store.engine import connect
from ..store.epochs import epoch_id
from ..store.models import DataStore, GroupMember, MatchPair, Observation, observation_column
from ..store.rows import bulk_insert, id_by_name, refresh_statistics
from ..text import plural
from .match import QUANTITIES, Rules, match_runs
from .stored import GroupingResult, store_grouping

if TYPE_CHECKING:
    from astropy.table import Table

    from ..formats import RowStream

__all__ = ["MatchResult", "match", "pair_query", "pair_stream", "pair_table", "PAIR_COLUMNS"]

_O, _S, _M, _P = Observation.__table__, DataStore.__table__, GroupMember.__table__, MatchPair.__table__
#: The columns of a match's pairs, as ``groups show`` and the export's ``pairs.ecsv`` give them.
PAIR_COLUMNS = ("on_store", "on_obs_id", "off_store", "off_obs_id", "rank", "distance")
_BASE_COLUMNS = ("zen_pnt_deg", "az_pnt_deg", "ra_pnt_deg", "dec_pnt_deg", "livetime_s")


@dataclass
class MatchResult(GroupingResult):
    """A stored match: the grouping, its ``pairs`` (a Table of :data:`PAIR_COLUMNS`) and its
    ``unmatched`` ON runs (``store``, ``obs_id``, ``n_passing``, ``tolerance``, ``reason``)."""

    pairs: Any = None
    unmatched: Any = None


def _runs(engine, criterion: Criterion, columns: list[str], parameter: str):
    """(ids, stores, obs_ids, {column: float array, NaN where NULL}) of a selection, by store and
    OBS_ID (sorted in numpy: sorting 10^6 rows in SQL, and a Python row object each, took most of
    the time)."""
    from ..store.arrays import float_columns

    values = (epoch_id() if c == EPOCH else observation_column(c) for c in columns)  # `same` epoch: its id
    data = float_columns(engine, [_O.c.id, _O.c.store_id, _O.c.obs_id, *values], criterion.clause())
    if not len(data):
        raise ParameterError(f"`{parameter}` selects no observation")
    if np.abs(data[:, :3]).max() >= 2**53:  # integers a double does not hold exactly
        raise InputError(f"`{parameter}`: an observation id or OBS_ID is beyond 2**53, which matching cannot hold")
    with connect(engine) as conn:
        names = dict(conn.execute(sa.select(_S.c.id, _S.c.name)).all())
    store_ids = data[:, 1].astype(np.int64)
    by_name = np.zeros(max(names) + 1, np.int64)  # store id -> its rank by name
    by_name[sorted(names, key=names.__getitem__)] = np.arange(len(names))
    order = np.lexsort((data[:, 2], by_name[store_ids]))
    data, store_ids = data[order], store_ids[order]
    name_of = np.empty(max(names) + 1, object)
    name_of[list(names)] = list(names.values())
    stores = name_of[store_ids]
    arrays = {c: data[:, 3 + k] for k, c in enumerate(columns)}
    return data[:, 0].astype(np.int64), stores, data[:, 2].astype(np.int64), arrays


def match(engine, name: str, on: Criterion, off_from: Criterion, rules: Rules, params: dict[str, Any], *,
          replace: bool = False) -> MatchResult:  # fmt: skip
    """Pair the ON runs ``on`` selects with OFF runs of ``off_from`` by ``rules`` and store the
    result as grouping ``name`` (``params``: how the rules were given, stored with the selections).
    A match in which no ON run gets OFF runs is refused, naming the tolerance that failed most."""
    columns = list(dict.fromkeys([*_BASE_COLUMNS, *(QUANTITIES.get(k, k) for k in rules.max_delta), *rules.same]))
    on_ids, on_stores, on_obs, on_values = _runs(engine, on, columns, "on")
    off_ids, off_stores, off_obs, off_values = _runs(engine, off_from, columns, "off_from")
    pairs = match_runs(on_values, off_values, on_ids, off_ids, rules)
    if not len(pairs.on):
        first = pairs.unmatched[0]
        raise InputError(f"no ON run got OFF runs ({plural(len(on_ids), 'ON run')}, "
                         f"{plural(pairs.n_candidates, 'OFF candidate')}): {on_stores[first.on]}:{on_obs[first.on]}: "
                         f"{first.reason}")  # fmt: skip
    matched = np.unique(pairs.on)
    off_used = np.unique(pairs.off)
    unmatched = [u.on for u in pairs.unmatched]
    member_idx = [("on", i) for i in matched] + [("unmatched", i) for i in unmatched]
    ids = [int(on_ids[i]) for _, i in member_idx] + [int(off_ids[j]) for j in off_used]
    stores = [on_stores[i] for _, i in member_idx] + [off_stores[j] for j in off_used]
    obs_ids = [int(on_obs[i]) for _, i in member_idx] + [int(off_obs[j]) for j in off_used]
    labels = [label for label, _ in member_idx] + ["off"] * len(off_used)
    params = {**params, "on": on.to_dict(), "off_from": off_from.to_dict(), "n_off_candidates": pairs.n_candidates,
              "unmatched": [{"store": on_stores[u.on], "obs_id": int(on_obs[u.on]), "n_passing": u.n_passing,
                             "tolerance": u.tolerance, "reason": u.reason} for u in pairs.unmatched]}  # fmt: skip
    rows = list(zip(on_ids[pairs.on].tolist(), off_ids[pairs.off].tolist(), pairs.rank.tolist(),
                    pairs.distance.tolist()))  # fmt: skip

    def write_pairs(conn, grouping_id: int) -> None:
        bulk_insert(conn, _P, ["grouping_id", "on_observation_id", "off_observation_id", "rank", "distance"],
                    ((grouping_id, *row) for row in rows))  # fmt: skip
        refresh_statistics(conn, _P)

    stored = store_grouping(engine, name, "match", plain(params), Or((on, off_from)), ids, stores, obs_ids, labels,
                            {}, replace, then=write_pairs)  # fmt: skip
    result = MatchResult(stored.name, stored.method, stored.members, stored.summary, stored.notes)
    result.pairs = _table({"on_store": on_stores[pairs.on], "on_obs_id": on_obs[pairs.on],
                           "off_store": off_stores[pairs.off], "off_obs_id": off_obs[pairs.off], "rank": pairs.rank,
                           "distance": pairs.distance})  # fmt: skip
    lost = np.array([u.on for u in pairs.unmatched], np.int64)
    result.unmatched = _table({"store": on_stores[lost], "obs_id": on_obs[lost],
                               "n_passing": [u.n_passing for u in pairs.unmatched],
                               "tolerance": [u.tolerance for u in pairs.unmatched],
                               "reason": [u.reason for u in pairs.unmatched]})  # fmt: skip
    result.notes.extend(f"ON run {on_stores[u.on]}:{on_obs[u.on]} unmatched: {u.reason}" for u in pairs.unmatched)
    return result


def _table(columns: dict[str, Any]) -> Table:
    from astropy.table import Table

    text = ("on_store", "off_store", "store", "tolerance", "reason")
    return Table({name: np.asarray(values, str if name in text else float if name == "distance" else np.int64)
                  for name, values in columns.items()})  # fmt: skip


def pair_query(conn, name: str) -> sa.Select:
    """Every ON run of match ``name`` with its OFF runs (NULL for an unmatched ON run), by ON
    store, OBS_ID and rank: the columns of :data:`PAIR_COLUMNS`."""
    from ..store.models import Grouping

    g = Grouping.__table__
    grouping_id = id_by_name(conn, g, name, "grouping")
    method = conn.execute(sa.select(g.c.method).where(g.c.id == grouping_id)).scalar_one()
    if method != "match":
        raise InputError(f"grouping {name!r} is a {method}, not a match: it has no pairs")
    on_o, on_s = _O.alias("on_o"), _S.alias("on_s")
    off_o, off_s = _O.alias("off_o"), _S.alias("off_s")
    return (
        sa.select(on_s.c.name.label("on_store"), on_o.c.obs_id.label("on_obs_id"), off_s.c.name.label("off_store"),
                  off_o.c.obs_id.label("off_obs_id"), _P.c.rank, _P.c.distance)
        .select_from(_M).join(on_o, on_o.c.id == _M.c.observation_id).join(on_s, on_s.c.id == on_o.c.store_id)
        .outerjoin(_P, (_P.c.grouping_id == _M.c.grouping_id) & (_P.c.on_observation_id == _M.c.observation_id))
        .outerjoin(off_o, off_o.c.id == _P.c.off_observation_id).outerjoin(off_s, off_s.c.id == off_o.c.store_id)
        .where(_M.c.grouping_id == grouping_id, _M.c.label != "off")
        .order_by(on_s.c.name, on_o.c.obs_id, _P.c.rank)
    )  # fmt: skip


def pair_stream(engine, name: str) -> RowStream:
    """:func:`pair_query`'s rows as a :class:`~obscat.formats.RowStream`."""
    from ..formats import RowStream
    from ..store.stream import count_rows, open_rows

    with connect(engine) as conn:
        query = pair_query(conn, name)
    return RowStream(list(PAIR_COLUMNS), dict.fromkeys(PAIR_COLUMNS), open_rows(engine, query),
                     lambda: count_rows(engine, query))  # fmt: skip


def pair_table(conn, name: str) -> Table:
    """The pairs of match ``name`` (matched ON runs only) as a Table of :data:`PAIR_COLUMNS`."""
    rows = [r for r in conn.execute(pair_query(conn, name)).all() if r[2] is not None]
    return _table({name: [r[k] for r in rows] for k, name in enumerate(PAIR_COLUMNS)})
