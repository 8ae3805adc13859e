"""Why a selection keeps nothing, what it would keep but for its cones or time ranges, and why it
keeps or leaves out one observation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..errors import InputError, ObscatError
from ..results import Explanation
from ..store.engine import reading
from ..store.models import POINTING_COLUMNS, DataStore, Observation, Pointing
from .columns import pointing_not_computed
from .criteria import And, Criterion, EpochName, Not, Or, Store, steps
from .where import Where

__all__ = ["explain_empty", "explain_observation", "no_observation_error", "without", "nodes"]


def nodes(criterion: Criterion) -> Iterator[Criterion]:
    """``criterion`` and every criterion inside it (a --where expression's too)."""
    return (node for _, node in steps(criterion))


def explain_observation(engine: Engine, obs_id: int, criterion: Criterion, store: str | None = None) -> Explanation:
    """Whether ``criterion`` keeps observation ``obs_id`` (of ``store``, needed only when the OBS_ID
    is in several stores), step by step: each criterion of the tree with the observation's values
    it tests and its outcome, ``pass``, ``fail`` or ``unknown`` (a NULL value: SQL keeps nothing
    unknown, negated or not)."""
    from astropy.table import Table

    from ..store.session import observation

    found = observation(engine, obs_id, store)
    o, s = Observation.__table__, DataStore.__table__
    tree = list(_readable(steps(criterion)))
    columns = []
    for i, (_, node) in enumerate(tree):
        clause = node.clause()
        columns.append(sa.case((clause, 1), (sa.not_(clause), 0), else_=None).label(f"r{i}"))
        columns += [expr.label(f"v{i}_{j}") for j, expr in enumerate(node.shown().values())]
    query = sa.select(*columns).select_from(o.join(s, o.c.store_id == s.c.id)).where(o.c.id == found.id)
    with reading(engine) as conn:
        row = conn.execute(query).one()._mapping
    outcome = {1: "pass", 0: "fail", None: "unknown"}
    rows = [(depth, "  " * depth + node.describe(),
             ", ".join(f"{label} = {_value(row[f'v{i}_{j}'])}" for j, label in enumerate(node.shown())),
             outcome[row[f"r{i}"]]) for i, (depth, node) in enumerate(tree)]  # fmt: skip
    steps_table = Table(rows=rows or None, names=("depth", "criterion", "value", "result"),
                        dtype=(int, str, str, str))  # fmt: skip
    return Explanation(found.store.name, found.obs_id, row["r0"] == 1, steps_table)


def _readable(pairs: Iterator[tuple[int, Criterion]]) -> Iterator[tuple[int, Criterion]]:
    """The steps without the "all of"/"any of" that hold one criterion (the flags' AND of one
    --where, say), their criteria a level up."""
    skipped: list[int] = []  # depths of the skipped combinations around the current step
    for depth, node in pairs:
        while skipped and depth <= skipped[-1]:
            skipped.pop()
        if isinstance(node, (And, Or)) and len(node.criteria) == 1:
            skipped.append(depth)
            continue
        yield depth - len(skipped), node


def _value(value) -> str:
    if value is None:
        return "NULL"
    return f"{value:.10g}" if isinstance(value, float) else str(value)


def explain_empty(conn, criterion: Criterion) -> None:
    """Raise why ``criterion`` keeps nothing if it is not the criteria's values: an empty
    catalogue, a store that does not exist, a pointing column not computed yet."""
    from ..store.epochs import known_epoch
    from ..store.rows import empty_catalog_error, store_id

    if (error := empty_catalog_error(conn)) is not None:
        raise error
    for node in nodes(criterion):
        if isinstance(node, Store):
            store_id(conn, node.name)
        if isinstance(node, EpochName):
            known_epoch(conn, node.name)
        column = getattr(node, "column", None)
        if column in POINTING_COLUMNS:
            computed = conn.execute(sa.select(sa.func.count(Pointing.__table__.c[column]))).scalar_one()
            if computed == 0:
                total = conn.execute(sa.select(sa.func.count()).select_from(Observation.__table__)).scalar_one()
                raise pointing_not_computed(column, total)


def no_observation_error(conn, criterion: Criterion) -> ObscatError:
    """The error for a selection that keeps nothing (see :func:`explain_empty`)."""
    explain_empty(conn, criterion)
    return InputError("the selection holds no observation")


def without(criterion: Criterion, kind: type[Criterion]) -> Criterion | None:
    """``criterion`` with every criterion of ``kind`` (a :class:`Cone` or :class:`TimeRange`,
    negated or not) replaced by "always true"; None if it has none.

    Observations without a sky pointing (NULL RA_PNT/DEC_PNT) are never in a cone nor outside
    it, nor are those without times in a time range: this is the selection they would have met
    but for those criteria.
    """
    if isinstance(criterion, kind):
        return And(())
    if isinstance(criterion, Where):
        return without(criterion.tree, kind)
    if isinstance(criterion, Not):
        if isinstance(criterion.criterion, kind):
            return And(())
        inner = without(criterion.criterion, kind)
        return None if inner is None else Not(inner)
    if isinstance(criterion, (And, Or)):
        parts = [without(c, kind) for c in criterion.criteria]
        if all(p is None for p in parts):
            return None
        return replace(criterion, criteria=tuple(c if p is None else p for c, p in zip(criterion.criteria, parts)))
    return None
