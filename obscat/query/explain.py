"""Why a selection keeps nothing, and what it would keep but for its cones or time ranges."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import sqlalchemy as sa

from ..errors import InputError, ObscatError
from ..store.models import POINTING_COLUMNS, Observation, Pointing
from .columns import pointing_not_computed
from .criteria import And, Criterion, Not, Or, Store
from .where import Where

__all__ = ["explain_empty", "no_observation_error", "without", "nodes"]


def nodes(criterion: Criterion) -> Iterator[Criterion]:
    """``criterion`` and every criterion inside it (a --where expression's too)."""
    yield criterion
    if isinstance(criterion, Where):
        yield from nodes(criterion.tree)
    elif isinstance(criterion, Not):
        yield from nodes(criterion.criterion)
    for child in getattr(criterion, "criteria", ()):
        yield from nodes(child)


def explain_empty(conn, criterion: Criterion) -> None:
    """Raise why ``criterion`` keeps nothing if it is not the criteria's values: an empty
    catalogue, a store that does not exist, a pointing column not computed yet."""
    from ..store.rows import empty_catalog_error, store_id

    if (error := empty_catalog_error(conn)) is not None:
        raise error
    for node in nodes(criterion):
        if isinstance(node, Store):
            store_id(conn, node.name)
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
