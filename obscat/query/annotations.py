"""Selections on annotation sets: :class:`Annotation` (``dq.light_yield > 0.8`` in ``--where``).

A criterion names a set and a column; which stored version, kind and unit that means is only
known in the database, so a selection holding one is bound before it compiles
(:func:`bind_annotations`, which :class:`obscat.Catalog` calls): the set's latest version (or the
one named), the value converted to the column's unit or category rank. An observation without
a row in the set is kept neither by a predicate nor by its negation (``not``), as SQL's NULL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa

from ..errors import InputError, ParameterError, did_you_mean, printable
from ..store.models import AnnotationColumn, Observation
from .canonical import quantity_from_json, quantity_json
from .criteria import And, Criterion, Not, Or, steps

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

__all__ = ["Annotation", "Bound", "UsedSet", "bind_annotations", "bound_annotations", "ANNOTATION_OPS"]

#: The comparisons of an annotation criterion ("in": one of several values).
ANNOTATION_OPS = ("<", "<=", ">", ">=", "==", "!=", "in")
_METHODS = {"<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__", "==": "__eq__", "!=": "__ne__"}
_O = Observation.__table__


@dataclass(frozen=True)
class UsedSet:
    """An annotation set version a selection used."""

    name: str
    version: int
    set_id: int
    table_name: str

    def __str__(self) -> str:
        return f"{self.name!r} (version {self.version})"


@dataclass(frozen=True)
class _Binding:
    used: UsedSet
    column: str
    value: Any
    negate: bool
    #: a category column's labels, best first (its values are their ranks)
    categories: tuple[str, ...] | None = None

    def values_column(self) -> Any:
        """The bound column of the set's values table, and that table."""
        table = sa.table(self.used.table_name, sa.column("observation_id"), sa.column(self.column))
        return table.c[self.column], table


@dataclass(frozen=True)
class Annotation(Criterion):
    """``<set>.<column> <op> value``: ``op`` one of :data:`ANNOTATION_OPS`; ``value`` a number (in the
    column's unit), a Quantity (converted to it), a category label or text, or for ``"in"`` a tuple
    of them. ``mask`` tests ``(column & mask) <op> value`` on an integer bit-mask column. Categories
    compare in their order, best first: ``Annotation("dq", "weather", "<=", "B")`` keeps A+, A, B.
    ``version`` pins a version (default: the latest when the selection runs)."""

    set_name: str
    column_name: str
    op: str
    value: Any
    mask: int | None = None
    version: int | None = None
    kind: ClassVar[str] = "annotation"
    _binding: _Binding | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for parameter in ("set_name", "column_name"):
            value = getattr(self, parameter)
            if not isinstance(value, str) or not value or "\x00" in value:
                raise ParameterError(f"`{parameter}` must be a name, not {value!r}")
        if self.op not in ANNOTATION_OPS:
            raise ParameterError(f"`op={self.op!r}` must be one of {', '.join(ANNOTATION_OPS)}")
        values = self.value if self.op == "in" else (self.value,)
        if self.op == "in":
            if not isinstance(values, (tuple, list)) or not values:
                raise ParameterError(f"`value` of 'in' must be a non-empty tuple, not {self.value!r}")
            object.__setattr__(self, "value", tuple(values))
        for value in values:
            if not (isinstance(value, str) or _number(value) or hasattr(value, "unit")):
                raise ParameterError(f"`value` must be a number, a Quantity or a string, not {value!r}")
        for parameter, lowest in (("mask", 0), ("version", 1)):
            value = getattr(self, parameter)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < lowest):
                raise ParameterError(f"`{parameter}` must be an integer >= {lowest}, not {value!r}")

    @property
    def label(self) -> str:
        column = f"{self.set_name}.{self.column_name}"
        return f"({column} & {self.mask})" if self.mask is not None else column

    def clause(self):
        if self._binding is None:
            raise ParameterError(f"the selection on annotation set {self.set_name!r} must be bound to the catalogue "
                                 "first: run it through obscat.Catalog")  # fmt: skip
        b = self._binding
        column, table = b.values_column()
        if self.mask is not None:
            column = column.op("&")(sa.literal(self.mask))
        if self.op == "in":
            condition = column.in_([sa.literal(v) for v in b.value])
        else:
            condition = getattr(column, _METHODS[self.op])(sa.literal(b.value))
        if b.negate:
            condition = sa.not_(condition)
        return _O.c.id.in_(sa.select(table.c.observation_id).where(condition))

    def describe(self) -> str:
        values = self.value if self.op == "in" else (self.value,)
        text = ", ".join(repr(v) if isinstance(v, str) else f"{v:g}" if isinstance(v, float) else str(v) for v in values)
        text = f"{self.label} {self.op} {f'({text})' if self.op == 'in' else text}"
        b = self._binding
        return text if b is None else f"{'not ' if b.negate else ''}{text} (version {b.used.version})"

    def shown(self):
        if self._binding is None:
            return {}
        column, table = self._binding.values_column()
        if self._binding.categories:
            column = sa.case(dict(enumerate(self._binding.categories)), value=column)
        return {self.label: sa.select(column).where(table.c.observation_id == _O.c.id).scalar_subquery()}

    def to_dict(self) -> dict:
        values = [_value_json(v) for v in (self.value if self.op == "in" else (self.value,))]
        return {"type": self.kind, "set": self.set_name, "column": self.column_name, "op": self.op,
                "value": values if self.op == "in" else values[0], "mask": self.mask, "version": self.version}  # fmt: skip

    @classmethod
    def from_dict(cls, data):
        raw = data["value"]
        value = tuple(_value_from_json(v) for v in raw) if data["op"] == "in" else _value_from_json(raw)
        return cls(data["set"], data["column"], data["op"], value, mask=data.get("mask"), version=data.get("version"))


def _number(value) -> bool:
    import numbers

    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(float(value))


def _value_json(value):
    return quantity_json(value) if hasattr(value, "unit") else (value if isinstance(value, str) else float(value))


def _value_from_json(value):
    return quantity_from_json(value) if isinstance(value, dict) else value


@dataclass(frozen=True)
class Bound(And):
    """A selection whose annotation criteria are bound to stored set versions (see
    :func:`bind_annotations`): it compiles as its one bound tree, serialises as ``original``."""

    original: Criterion | None = None
    used: tuple[UsedSet, ...] = ()

    def to_dict(self) -> dict:
        assert self.original is not None
        return self.original.to_dict()


def bound_annotations(criterion: Criterion) -> tuple[UsedSet, ...]:
    """The set versions a bound selection uses (none for any other)."""
    return criterion.used if isinstance(criterion, Bound) else ()


def bind_annotations(bind: Engine | Connection, criterion: Criterion) -> Criterion:
    """``criterion`` ready to compile: a :class:`Bound` if it holds annotation criteria (each
    checked against its set: unknown sets, columns or categories, and comparisons the column's
    kind cannot make, are errors), else itself (without reading the database)."""
    from ..store.engine import reading

    if isinstance(criterion, Bound) or not any(isinstance(n, Annotation) for _, n in steps(criterion)):
        return criterion
    with reading(bind) as conn:
        return _bind_tree(conn, criterion)


def _bind_tree(conn: Connection, criterion: Criterion) -> Bound:
    sets: dict[tuple[str, int | None], tuple[UsedSet, dict[str, Any]]] = {}

    def bind(node: Criterion, negate: bool) -> Criterion:
        from .where import Where

        if isinstance(node, Annotation):
            return _bound(conn, node, negate, sets)
        if isinstance(node, Where):
            return bind(node.tree, negate)
        if isinstance(node, Not):
            return bind(node.criterion, not negate)
        if isinstance(node, (And, Or)):  # De Morgan: negations reach the annotation criteria
            combine = (Or if isinstance(node, And) else And) if negate else type(node)
            return combine(tuple(bind(c, negate) for c in node.criteria))
        return Not(node) if negate else node

    tree = bind(criterion, False)
    used = tuple(dict.fromkeys(u for u, _ in sets.values()))
    return Bound((tree,), original=criterion, used=used)


def _bound(conn: Connection, node: Annotation, negate: bool, sets: dict) -> Annotation:
    from ..store.annotations import annotation_set_row

    key = (node.set_name, node.version)
    if key not in sets:
        row = annotation_set_row(conn, node.set_name, node.version)
        c = AnnotationColumn.__table__
        columns = {r.name: r for r in conn.execute(sa.select(c).where(c.c.set_id == row.id))}
        sets[key] = (UsedSet(row.name, row.version, row.id, row.table_name), columns)
    used, columns = sets[key]
    if node.column_name not in columns:
        listing = " (columns: " + ", ".join(columns) + ")"
        raise InputError(f"annotation set {node.set_name!r} has no column {node.column_name!r}"
                         f"{did_you_mean(node.column_name, columns) or listing}")  # fmt: skip
    column = columns[node.column_name]
    values = node.value if node.op == "in" else (node.value,)
    converted = tuple(_converted(node, column, v) for v in values)
    bound = Annotation(node.set_name, node.column_name, node.op, node.value, mask=node.mask, version=node.version)
    categories = tuple(column.categories) if column.kind == "category" else None
    binding = _Binding(used, f"c{column.position}", converted if node.op == "in" else converted[0], negate, categories)
    object.__setattr__(bound, "_binding", binding)
    return bound


def _converted(node: Annotation, column, value) -> Any:
    """``value`` as the values table stores it: a number in the column's unit, a category's rank."""
    what = f"{node.label} ({_describe(column)})"
    if node.mask is not None and column.kind != "mask":
        raise InputError(f"bit operations need a mask column: {node.set_name}.{node.column_name} is {_describe(column)}")
    if column.kind == "category":
        if not isinstance(value, str):
            raise InputError(f"compare {what} with a quoted category, not {value!r}")
        if value not in column.categories:
            raise InputError(f"{printable(value)!r} is not a category of {node.set_name}.{node.column_name} "
                             f"({', '.join(column.categories)})")  # fmt: skip
        return column.categories.index(value)
    if column.kind == "text":
        if node.op not in ("==", "!=", "in") or not isinstance(value, str):
            raise InputError(f"compare {what} with ==, != or in and quoted text")
        return value
    if isinstance(value, str):
        raise InputError(f"compare {what} with a number, not {value!r}")
    if hasattr(value, "unit"):
        from astropy import units as u

        try:
            return float(value.to_value(column.unit or u.dimensionless_unscaled))
        except u.UnitsError:
            raise InputError(f"{value} cannot compare with {what}") from None
    if column.kind == "mask":
        if not float(value).is_integer():
            raise InputError(f"compare {what} with an integer, not {value!r}")
        return int(value)
    return float(value)


def _describe(column) -> str:
    if column.kind == "number":
        return f"a number in {column.unit}" if column.unit else "a number"
    if column.kind == "category":
        return f"a category: {', '.join(column.categories)}"
    return "text" if column.kind == "text" else "a bit mask"
