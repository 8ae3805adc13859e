"""Typed observation criteria that compile to SQL with bound parameters.

A selection is a tree of criteria: :class:`Cone` (a SkyCoord and an angle), :class:`TimeRange`
(two Times), :class:`ValueRange` (a column and two Quantities), :class:`Ids`, :class:`Store`,
:class:`ObjectName`, :class:`~obscat.query.where.Where` (the ``--where`` language), combined with
:class:`And`, :class:`Or`, :class:`Not` or the operators ``&``, ``|``, ``~``. Each compiles to a
SQLAlchemy expression over the ``observation`` table; user values only travel as bound
parameters, column names come from the schema's allow-list. The semantics are Gammapy's
``select_observations``: strict ``<`` for cones, half-open value ranges (equality when
``lo == hi``), whole containment in a time range unless ``partial_overlap``.

Every criterion serialises to canonical JSON (:meth:`Criterion.to_json`) and back
(:func:`criterion_from_json`), selecting the same observations. :class:`~obscat.query.cone.Cone`
lives in :mod:`obscat.query.cone`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import sqlalchemy as sa

from ..errors import InputError, ParameterError, printable
from ..store.epochs import epoch_members, epoch_name
from ..store.models import DataStore, Observation, observation_column, observation_column_info
from .canonical import canonical_json, quantity_from_json, time_json
from .columns import NUMERIC_COLUMNS, unknown_column

__all__ = ["Criterion", "And", "Or", "Not", "TimeRange", "ValueRange", "Ids", "Store", "ObjectName", "EpochName",
           "criterion_from_json", "criterion_from_dict", "steps"]  # fmt: skip

_O = Observation.__table__
_S = DataStore.__table__
#: criterion type name (the JSON ``"type"``) -> class
_KINDS: dict[str, type[Criterion]] = {}


class Criterion:
    """A node of a selection tree."""

    kind: ClassVar[str]

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            _KINDS[cls.kind] = cls

    def clause(self) -> sa.ColumnElement[bool]:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_dict(self) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def from_dict(cls, data: dict) -> Criterion:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:
        """The criterion in a few words, for ``select --explain``."""
        return self.to_json()

    def shown(self) -> dict[str, sa.ColumnElement]:
        """What ``select --explain`` shows of an observation beside this criterion: label -> SQL
        expression over ``observation`` (its store joined)."""
        return {}

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, values in the units the SQL compares): the same
        criterion always gives the same text, and :func:`criterion_from_json` reads it back."""
        return canonical_json(self.to_dict())

    def __and__(self, other: Criterion) -> Criterion:
        if not isinstance(other, Criterion):
            return NotImplemented
        return And((*_parts(self, And), *_parts(other, And)))

    def __or__(self, other: Criterion) -> Criterion:
        if not isinstance(other, Criterion):
            return NotImplemented
        return Or((*_parts(self, Or), *_parts(other, Or)))

    def __invert__(self) -> Criterion:
        return Not(self)


def steps(criterion: Criterion, depth: int = 0) -> Iterator[tuple[int, Criterion]]:
    """``criterion`` and every criterion inside it (a --where expression's tree too), depth
    first, each with its depth."""
    yield depth, criterion
    inner = getattr(criterion, "tree", None) or getattr(criterion, "criterion", None)
    if inner is not None:
        yield from steps(inner, depth + 1)
    for child in getattr(criterion, "criteria", ()):
        yield from steps(child, depth + 1)


def _parts(criterion: Criterion, kind: type[_Combination]) -> tuple[Criterion, ...]:
    return criterion.criteria if isinstance(criterion, kind) else (criterion,)


def criterion_from_json(text: str) -> Criterion:
    """The criterion :meth:`Criterion.to_json` wrote."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"`text` is not JSON: {exc}") from None
    return criterion_from_dict(data)


def criterion_from_dict(data: dict) -> Criterion:
    """The criterion :meth:`Criterion.to_dict` gave."""
    kind = data.get("type") if isinstance(data, dict) else None
    if kind not in _KINDS:
        raise ParameterError(f"not a selection criterion: type {kind!r} (known: {', '.join(sorted(_KINDS))})")
    return _KINDS[kind].from_dict(data)


def _criteria(value, parameter: str) -> tuple[Criterion, ...]:
    parts = tuple(value)
    for part in parts:
        if not isinstance(part, Criterion):
            raise ParameterError(f"`{parameter}` must hold selection criteria, not {part!r}")
    return parts


@dataclass(frozen=True)
class _Combination(Criterion):
    criteria: tuple[Criterion, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "criteria", _criteria(self.criteria, "criteria"))

    def to_dict(self) -> dict:
        return {"type": self.kind, "criteria": [c.to_dict() for c in self.criteria]}

    @classmethod
    def from_dict(cls, data):
        return cls(tuple(criterion_from_dict(c) for c in data["criteria"]))


@dataclass(frozen=True)
class And(_Combination):
    """Observations every criterion keeps (all of them for no criterion)."""

    kind: ClassVar[str] = "and"

    def describe(self) -> str:
        return "all of"

    def clause(self):
        return sa.and_(sa.true(), *(c.clause() for c in self.criteria))


@dataclass(frozen=True)
class Or(_Combination):
    """Observations any criterion keeps (none for no criterion)."""

    kind: ClassVar[str] = "or"

    def describe(self) -> str:
        return "any of"

    def clause(self):
        return sa.or_(sa.false(), *(c.clause() for c in self.criteria))


@dataclass(frozen=True)
class Not(Criterion):
    """Observations ``criterion`` leaves out (those it cannot decide, e.g. a cone's without a
    pointing, stay out too, as in SQL)."""

    criterion: Criterion
    kind: ClassVar[str] = "not"

    def __post_init__(self) -> None:
        _criteria((self.criterion,), "criterion")

    def describe(self) -> str:
        return "not"

    def clause(self):
        return sa.not_(self.criterion.clause())

    def to_dict(self) -> dict:
        return {"type": self.kind, "criterion": self.criterion.to_dict()}

    @classmethod
    def from_dict(cls, data):
        return cls(criterion_from_dict(data["criterion"]))


def _time(value, parameter: str):
    from astropy.time import Time

    if not (isinstance(value, Time) and value.isscalar):
        raise ParameterError(f"`{parameter}` must be one astropy Time, not {value!r}")
    mjd = float(value.tt.mjd)
    if not math.isfinite(mjd):
        raise ParameterError(f"`{parameter}` must be a finite time, not {value}")
    return mjd


@dataclass(frozen=True)
class TimeRange(Criterion):
    """Observations inside [``start``, ``stop``] (astropy Times); with ``partial_overlap`` any overlap."""

    start: Any
    stop: Any
    partial_overlap: bool = False
    kind: ClassVar[str] = "time"
    _mjd: tuple[float, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        start, stop = _time(self.start, "start"), _time(self.stop, "stop")
        if start > stop:
            raise ParameterError(f"`start` {self.start.tt.isot} TT is after `stop` {self.stop.tt.isot} TT: "
                                 "no observation can match")  # fmt: skip
        object.__setattr__(self, "_mjd", (start, stop))

    def describe(self) -> str:
        how = "overlaps" if self.partial_overlap else "within"
        return f"time {how} {self.start.isot} {self.start.scale.upper()} .. {self.stop.isot} {self.stop.scale.upper()}"

    def shown(self):
        return {"tstart_mjd": _O.c.tstart_mjd, "tstop_mjd": _O.c.tstop_mjd}

    def clause(self):
        t0, t1 = sa.literal(self._mjd[0]), sa.literal(self._mjd[1])
        if self.partial_overlap:
            return sa.and_(t0 <= _O.c.tstop_mjd, t1 >= _O.c.tstart_mjd)
        return sa.and_(t0 <= _O.c.tstart_mjd, t1 >= _O.c.tstop_mjd)

    def to_dict(self) -> dict:
        return {"type": self.kind, "start": time_json(self.start), "stop": time_json(self.stop),
                "partial_overlap": bool(self.partial_overlap)}  # fmt: skip

    @classmethod
    def from_dict(cls, data):
        from astropy.time import Time

        start, stop = (Time(data[k]["value"], format=data[k]["format"], scale=data[k]["scale"]) for k in ("start", "stop"))
        return cls(start, stop, partial_overlap=data["partial_overlap"])


@dataclass(frozen=True)
class ValueRange(Criterion):
    """``lo <= column < hi`` (``column == lo`` when lo == hi): Quantities converted to the column's
    unit; a column without a unit (``n_tels``, ``muoneff``) takes plain numbers."""

    column: str
    lo: Any
    hi: Any
    kind: ClassVar[str] = "range"
    _values: tuple[float, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.column not in NUMERIC_COLUMNS:
            raise unknown_column(self.column)
        unit = observation_column_info(self.column).get("unit")
        lo, hi = (self._value(v, name, unit) for v, name in ((self.lo, "lo"), (self.hi, "hi")))
        if lo > hi:
            raise ParameterError(f"`lo` {self.lo} is above `hi` {self.hi}: no observation can match")
        object.__setattr__(self, "_values", (lo, hi))

    def _value(self, value, parameter: str, unit: str | None) -> float:
        from astropy import units as u

        if unit:
            if not isinstance(value, u.Quantity):
                raise ParameterError(f"`{parameter}` must be a Quantity in {unit} (the unit of {self.column}), "
                                     f"not {value!r}")  # fmt: skip
            try:
                value = value.to_value(unit, equivalencies=u.temperature())
            except u.UnitsError:
                raise ParameterError(f"`{parameter}` must be in {unit} (the unit of {self.column}), not {value}") from None
        elif isinstance(value, u.Quantity):
            if value.unit != u.dimensionless_unscaled:
                raise ParameterError(f"`{parameter}` must be a number ({self.column} has no unit), not {value}")
            value = value.value
        if isinstance(value, (bool, str)) or not _real(value):
            raise ParameterError(f"`{parameter}` must be one number, not {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise ParameterError(f"`{parameter}` must be finite, not {value}")
        return value

    def describe(self) -> str:
        unit = observation_column_info(self.column).get("unit")
        lo, hi = (f"{v:g}{f' {unit}' if unit else ''}" for v in self._values)
        return f"{lo} <= {self.column} < {hi}"

    def shown(self):
        return {self.column: observation_column(self.column)}

    def clause(self):
        column = observation_column(self.column)
        lo, hi = self._values
        if math.isclose(lo, hi, rel_tol=1e-5, abs_tol=1e-8):  # np.allclose, as Gammapy
            return column == sa.literal(lo)
        return sa.and_(column >= sa.literal(lo), column < sa.literal(hi))

    def to_dict(self) -> dict:
        unit = observation_column_info(self.column).get("unit")
        lo, hi = ({"unit": unit, "value": v} if unit else v for v in self._values)
        return {"type": self.kind, "column": self.column, "lo": lo, "hi": hi}

    @classmethod
    def from_dict(cls, data):
        lo, hi = (quantity_from_json(data[k]) if isinstance(data[k], dict) else data[k] for k in ("lo", "hi"))
        return cls(data["column"], lo, hi)


@dataclass(frozen=True)
class Ids(Criterion):
    """Observations with these OBS_IDs."""

    obs_ids: tuple[int, ...]
    kind: ClassVar[str] = "ids"

    def __post_init__(self) -> None:
        try:
            ids = tuple(self.obs_ids)
        except TypeError:
            raise ParameterError(f"`obs_ids` must be OBS_IDs (integers), not {self.obs_ids!r}") from None
        bad = [i for i in ids if isinstance(i, bool) or not _real(i) or not float(i).is_integer()]
        if bad:
            raise ParameterError(f"`obs_ids` must be integers, not {bad[0]!r}")
        object.__setattr__(self, "obs_ids", tuple(int(i) for i in ids))

    def describe(self) -> str:
        ids = ", ".join(map(str, self.obs_ids[:5])) + (", …" if len(self.obs_ids) > 5 else "")
        return f"obs_id in ({ids})"

    def shown(self):
        return {"obs_id": _O.c.obs_id}

    def clause(self):
        return _O.c.obs_id.in_(list(self.obs_ids))

    def to_dict(self) -> dict:
        return {"type": self.kind, "obs_ids": list(self.obs_ids)}

    @classmethod
    def from_dict(cls, data):
        return cls(tuple(data["obs_ids"]))


def _real(value) -> bool:
    """Whether ``value`` is one real number (Python's or numpy's)."""
    import numbers

    return isinstance(value, numbers.Real) and getattr(value, "ndim", 0) == 0


def _text(value, parameter: str, what: str) -> None:
    """Refuse a non-string or a NUL character: no stored text holds one (PostgreSQL text cannot)."""
    if not isinstance(value, str):
        raise ParameterError(f"`{parameter}` must be a string, not {value!r}")
    if "\x00" in value:
        raise InputError(f"{what} '{printable(value)}' contains a NUL character")


@dataclass(frozen=True)
class Store(Criterion):
    """Observations of the store named ``name``."""

    name: str
    kind: ClassVar[str] = "store"

    def __post_init__(self) -> None:
        _text(self.name, "name", "store name")

    def describe(self) -> str:
        return f"store == {self.name!r}"

    def shown(self):
        return {"store": _S.c.name}

    def clause(self):
        return _O.c.store_id.in_(sa.select(_S.c.id).where(_S.c.name == sa.literal(self.name)))

    def to_dict(self) -> dict:
        return {"type": self.kind, "name": self.name}

    @classmethod
    def from_dict(cls, data):
        return cls(data["name"])


@dataclass(frozen=True)
class ObjectName(Criterion):
    """OBJECT matches a pattern: ``*`` any characters, ``?`` one (case-insensitive)."""

    pattern: str
    kind: ClassVar[str] = "object"

    def __post_init__(self) -> None:
        _text(self.pattern, "pattern", "object pattern")

    def describe(self) -> str:
        return f"object matches {self.pattern!r}"

    def shown(self):
        return {"object": _O.c.object}

    def clause(self):
        like = self.pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = like.replace("*", "%").replace("?", "_")
        return sa.func.lower(_O.c.object).like(sa.literal(like.lower()), escape="\\")

    def to_dict(self) -> dict:
        return {"type": self.kind, "pattern": self.pattern}

    @classmethod
    def from_dict(cls, data):
        return cls(data["pattern"])


@dataclass(frozen=True)
class EpochName(Criterion):
    """Observations in the epoch named ``name`` (``equal=False``: in another epoch; observations in
    no epoch are kept by neither, as SQL's NULL)."""

    name: str
    equal: bool = True
    kind: ClassVar[str] = "epoch"

    def __post_init__(self) -> None:
        _text(self.name, "name", "epoch name")

    def describe(self) -> str:
        return f"epoch {'==' if self.equal else '!='} {self.name!r}"

    def shown(self):
        return {"epoch": epoch_name()}

    def clause(self):
        return _O.c.id.in_(epoch_members(self.name, self.equal))

    def to_dict(self) -> dict:
        return {"type": self.kind, "name": self.name, "equal": bool(self.equal)}

    @classmethod
    def from_dict(cls, data):
        return cls(data["name"], data["equal"])
