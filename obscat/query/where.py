"""The ``--where`` language: ``"zen_pnt_deg < 30 and (muoneff >= 0.9 or not n_tels == 3)"``.

Python's expression grammar is the parser; only ``and``/``or``/``not``, comparisons (chains
allowed) of allow-listed columns with literals, and the functions ``cone()``, ``time()``,
``object()``, ``store()`` are accepted; anything else is an error naming it. ``set.column``
names a column of an annotation set (:mod:`.annotations`): compared as above, with ``in (...)``,
or as ``(set.mask & 4) == 0``.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import sqlalchemy as sa

from ..errors import InputError, ParameterError
from ..store.models import observation_column
from .annotations import Annotation
from .columns import EPOCH, NUMERIC_COLUMNS, TEXT_COLUMNS, unknown_column
from .cone import Cone
from .criteria import And, Criterion, EpochName, Not, ObjectName, Or, Store, TimeRange

__all__ = ["Where", "Compare", "parse_where", "parse_time", "MAX_WHERE_DEPTH"]

#: How deeply ``and``/``or``/``not`` may nest in --where (SQL compilers recurse too).
MAX_WHERE_DEPTH = 100

_COMPARISONS = {ast.Lt: "__lt__", ast.LtE: "__le__", ast.Gt: "__gt__", ast.GtE: "__ge__", ast.Eq: "__eq__",
                ast.NotEq: "__ne__"}  # fmt: skip


@dataclass(frozen=True)
class Where(Criterion):
    """The observations a ``--where`` expression keeps (parsed, and checked, when made)."""

    text: str
    kind: ClassVar[str] = "where"
    tree: Criterion = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise ParameterError(f"`text` must be a string, not {self.text!r}")
        object.__setattr__(self, "tree", parse_where(self.text))

    def describe(self) -> str:
        return f"where {self.text!r}"

    def clause(self):
        return self.tree.clause()

    def to_dict(self) -> dict:
        return {"type": self.kind, "text": self.text}

    @classmethod
    def from_dict(cls, data):
        return cls(data["text"])


@dataclass(frozen=True)
class Compare(Criterion):
    """``column <op> value``: a comparison of the --where language."""

    column: str
    op: str
    value: float | str
    kind: ClassVar[str] = "compare"

    def describe(self) -> str:
        symbol = {"__lt__": "<", "__le__": "<=", "__gt__": ">", "__ge__": ">=", "__eq__": "==", "__ne__": "!="}[self.op]
        return f"{self.column} {symbol} {self.value:g}" if isinstance(self.value, float) else f"{self.column} {symbol} {self.value!r}"

    def shown(self):
        return {self.column: observation_column(self.column)}

    def clause(self):
        return getattr(observation_column(self.column), self.op)(sa.literal(self.value))

    def to_dict(self) -> dict:
        return {"type": self.kind, "column": self.column, "op": self.op, "value": self.value}

    @classmethod
    def from_dict(cls, data):
        if data["op"] not in _COMPARISONS.values() or data["column"] not in NUMERIC_COLUMNS + TEXT_COLUMNS:
            raise ParameterError(f"not a comparison: {data!r}")
        return cls(data["column"], data["op"], data["value"])


def parse_time(value):
    """A Time from a Time, an ISO string or an MJD number (UTC, as astropy's default)."""
    from astropy.time import Time

    if isinstance(value, Time):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    try:
        return Time(value) if number is None else Time(number, format="mjd")
    except (TypeError, ValueError) as exc:
        raise InputError(f"bad time {value!r}: {exc}") from None


def parse_where(text: str) -> Criterion:
    """The criterion tree of a ``--where`` expression."""
    if len(text) > 10_000:
        raise InputError("--where is longer than 10000 characters")
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as exc:
        raise InputError(f"malformed --where {text!r}: {exc.msg}") from None
    except (RecursionError, MemoryError):  # Python's parser on thousands of nested operators
        raise InputError(f"malformed --where {text!r}: nested more than {MAX_WHERE_DEPTH} levels deep") from None
    return _node(tree, text)


def _node(node: ast.AST, text: str, depth: int = 0) -> Criterion:
    if depth > MAX_WHERE_DEPTH:
        raise InputError(f"malformed --where {text!r}: nested more than {MAX_WHERE_DEPTH} levels deep")
    if isinstance(node, ast.BoolOp):
        parts = tuple(_node(v, text, depth + 1) for v in node.values)
        return And(parts) if isinstance(node.op, ast.And) else Or(parts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return Not(_node(node.operand, text, depth + 1))
    if isinstance(node, ast.Call):
        return _call(node, text)
    if isinstance(node, ast.Compare):
        left, compared = node.left, []
        for op, right in zip(node.ops, node.comparators):
            compared.append(_compare(left, op, right, text))
            left = right
        return compared[0] if len(compared) == 1 else And(tuple(compared))
    raise InputError(f"malformed --where {text!r}: {_describe(node, text)} is not allowed")


def _cone(lon: float, lat: float, radius: float, frame: str = "icrs") -> Cone:
    return Cone.from_degrees(lon, lat, radius, frame=frame)


def _time_range(start, stop) -> TimeRange:
    from .options import time_range

    return time_range(start, stop)


#: --where functions: name -> (argument kinds, criterion); "n" a number, "s" a quoted string,
#: "t" either (a time: MJD or ISO), "?" starts the optional ones.
_CALLS: dict[str, tuple[str, Callable[..., Criterion]]] = {
    "cone": ("nnn?s", _cone),
    "time": ("tt", _time_range),
    "object": ("s", ObjectName),
    "store": ("s", Store),
}


def _call(node: ast.Call, text: str) -> Criterion:
    """``cone(LON, LAT, R[, "galactic"])``, ``time("ISO or MJD", "...")``, ``object("pks*")``,
    ``store("hess")``: the other criteria inside --where, so that they can be OR-ed."""
    name = node.func.id if isinstance(node.func, ast.Name) else None
    if name not in _CALLS or node.keywords:
        raise InputError(f"malformed --where {text!r}: {_describe(node, text)} is not allowed "
                         f"(functions: {', '.join(f'{n}()' for n in _CALLS)})")  # fmt: skip
    kinds, make = _CALLS[name]
    required = kinds.split("?")[0]
    if not len(required) <= len(node.args) <= len(kinds.replace("?", "")):
        raise InputError(f"malformed --where {text!r}: {name}() takes {len(required)}"
                         f"{'' if '?' not in kinds else f' or {len(kinds) - 1}'} arguments")  # fmt: skip
    args: list[float | str] = []
    for kind, arg in zip(kinds.replace("?", ""), node.args):
        if kind == "n" or (kind == "t" and not (isinstance(arg, ast.Constant) and isinstance(arg.value, str))):
            args.append(_number(arg, text))
        elif isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            args.append(arg.value)
        else:
            raise InputError(f"malformed --where {text!r}: {_describe(arg, text)} is not a quoted string")
    return make(*args)


def _compare(left: ast.AST, op: ast.cmpop, right: ast.AST, text: str) -> Criterion:
    if _annotation_side(left) or _annotation_side(right):
        return _annotation(left, op, right, text)
    if type(op) not in _COMPARISONS:
        raise InputError(f"malformed --where {text!r}: operator {type(op).__name__} is not allowed")
    if isinstance(left, ast.Name) and isinstance(right, ast.Name):
        raise InputError(f"malformed --where {text!r}: compare a column with a number")
    if isinstance(right, ast.Name):  # 30 > zen_pnt_deg
        flipped = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE}.get(type(op), type(op))
        left, op, right = right, flipped(), left
    if not isinstance(left, ast.Name):
        raise InputError(f"malformed --where {text!r}: {_describe(left, text)} is not a column")
    if left.id == EPOCH:  # the observation's epoch (obscat epochs), compared as a text column
        if type(op) not in (ast.Eq, ast.NotEq) or not (isinstance(right, ast.Constant) and isinstance(right.value, str)):
            raise InputError(f"malformed --where {text!r}: compare epoch with == or != and a quoted string")
        return EpochName(right.value, isinstance(op, ast.Eq))
    if left.id in TEXT_COLUMNS:
        if type(op) not in (ast.Eq, ast.NotEq) or not (isinstance(right, ast.Constant) and isinstance(right.value, str)):
            raise InputError(f"malformed --where {text!r}: compare text column {left.id} with == or != and a quoted "
                             "string")  # fmt: skip
        return Compare(left.id, _COMPARISONS[type(op)], right.value)
    if left.id not in NUMERIC_COLUMNS:
        raise unknown_column(left.id, " in --where", text=True)
    return Compare(left.id, _COMPARISONS[type(op)], _number(right, text))


_SYMBOLS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.In: "in"}


def _annotation_side(node: ast.AST) -> bool:
    """Whether ``node`` is ``set.column`` or ``(set.column & N)``."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd):
        node = node.left
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)


def _annotation(left: ast.AST, op: ast.cmpop, right: ast.AST, text: str) -> Criterion:
    """``set.column <op> literal`` (either side), ``set.column [not] in (literals)``, ``(set.column & N) <op> N``."""
    if not _annotation_side(left):  # 0.8 < dq.light_yield
        flipped = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE}.get(type(op), type(op))
        if flipped in (ast.In, ast.NotIn):
            raise InputError(f"malformed --where {text!r}: write `set.column in (...)`")
        left, op, right = right, flipped(), left
    if _annotation_side(right):
        raise InputError(f"malformed --where {text!r}: compare an annotation column with a literal")
    mask = None
    if isinstance(left, ast.BinOp):
        bits = _number(left.right, text)
        if not bits.is_integer() or bits < 0:
            raise InputError(f"malformed --where {text!r}: {_describe(left.right, text)} is not a bit mask (an integer)")
        mask, left = int(bits), left.left
    assert isinstance(left, ast.Attribute) and isinstance(left.value, ast.Name)
    negated = isinstance(op, ast.NotIn)
    symbol = "in" if negated else _SYMBOLS.get(type(op))
    if symbol is None:
        raise InputError(f"malformed --where {text!r}: operator {type(op).__name__} is not allowed")
    if symbol == "in":
        if not isinstance(right, (ast.Tuple, ast.List, ast.Set)) or not right.elts:
            raise InputError(f"malformed --where {text!r}: {_describe(right, text)} is not a list of values: (1, 2)")
        value: Any = tuple(_literal(e, text) for e in right.elts)
    else:
        value = _literal(right, text)
    criterion = Annotation(left.value.id, left.attr, symbol, value, mask=mask)
    return Not(criterion) if negated else criterion


def _literal(node: ast.AST, text: str) -> float | str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return _number(node, text)


def _number(node: ast.AST, text: str) -> float:
    sign = 1.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        value = sign * float(node.value)
        if math.isfinite(value):
            return value
    raise InputError(f"malformed --where {text!r}: {_describe(node, text)} is not a finite number")


def _describe(node: ast.AST, text: str) -> str:
    """The user's own spelling of a node."""
    return ast.get_source_segment(text, node) or ast.unparse(node)
