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
(:func:`criterion_from_json`), selecting the same observations.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import sqlalchemy as sa

from ..errors import InputError, ParameterError, printable
from ..store.models import SKY_ZONE_HEIGHT_DEG, DataStore, Observation, observation_column, observation_column_info
from .canonical import canonical_json, quantity_json, time_json
from .columns import NUMERIC_COLUMNS, unknown_column
from ..compute.sky import separation_deg

__all__ = ["Criterion", "And", "Or", "Not", "Cone", "TimeRange", "ValueRange", "Ids", "Store", "ObjectName",
           "criterion_from_json", "criterion_from_dict"]  # fmt: skip

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


def _parts(criterion: Criterion, kind: type) -> tuple[Criterion, ...]:
    return criterion.criteria if type(criterion) is kind else (criterion,)


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

    def clause(self):
        return sa.and_(sa.true(), *(c.clause() for c in self.criteria))


@dataclass(frozen=True)
class Or(_Combination):
    """Observations any criterion keeps (none for no criterion)."""

    kind: ClassVar[str] = "or"

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

    def clause(self):
        return sa.not_(self.criterion.clause())

    def to_dict(self) -> dict:
        return {"type": self.kind, "criterion": self.criterion.to_dict()}

    @classmethod
    def from_dict(cls, data):
        return cls(criterion_from_dict(data["criterion"]))


def _angle(value, parameter: str):
    """``value`` (an angle Quantity) as a scalar Angle; ParameterError naming ``parameter``."""
    from astropy import units as u
    from astropy.coordinates import Angle

    if not (isinstance(value, u.Quantity) and value.unit.physical_type == "angle" and value.isscalar):
        raise ParameterError(f"`{parameter}` must be an angle, not {value}")
    if not math.isfinite(value.value):
        raise ParameterError(f"`{parameter}` must be finite, not {value}")
    return Angle(value).to(u.deg)


@dataclass(frozen=True)
class Cone(Criterion):
    """Pointings strictly closer than ``radius + border`` to ``center``.

    ``center`` is a SkyCoord in any frame (or a regions ``CircleSkyRegion``, which also gives the
    radius); ``radius`` and ``border`` are angles. The separation is the Vincenty great-circle
    formula astropy uses; a declination-zone and RA-range prefilter on the indexed
    (``sky_zone``, ``ra_pnt_deg``) columns keeps it from scanning the table.
    """

    center: Any
    radius: Any = None
    border: Any = None
    kind: ClassVar[str] = "cone"
    _icrs: tuple[float, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from astropy import units as u
        from astropy.coordinates import SkyCoord

        center, radius = self.center, self.radius
        if not isinstance(center, SkyCoord) and hasattr(center, "center") and hasattr(center, "radius"):
            if radius is not None:
                raise ParameterError("give `radius` only with a SkyCoord `center`, not with a region")
            center, radius = center.center, center.radius  # a regions CircleSkyRegion
        if not (isinstance(center, SkyCoord) and center.isscalar):
            raise ParameterError(f"`center` must be one SkyCoord position (or a CircleSkyRegion), not {center!r}")
        if radius is None:
            raise ParameterError("`radius` is missing: give an angle, e.g. 2 * u.deg")
        radius = _angle(radius, "radius")
        border = _angle(0 * u.deg if self.border is None else self.border, "border")
        if radius + border < 0:
            raise ParameterError(f"`radius` {radius} + `border` {border} is negative")
        if center.frame.name not in ("icrs", "galactic"):
            try:
                center = center.icrs
            except Exception as exc:  # frames needing an obstime or location to convert
                raise ParameterError(f"`center` in frame {center.frame.name} cannot be converted to ICRS: {exc}") from None
        icrs = center.icrs
        for name, value in (("center", center), ("radius", radius), ("border", border)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_icrs", (float(icrs.ra.deg), float(icrs.dec.deg)))

    def clause(self):
        ra0, dec0 = self._icrs
        radius = float((self.radius + self.border).deg)
        separation = separation_deg(ra0, dec0, _O.c.ra_pnt_deg, _O.c.dec_pnt_deg, sa.func)
        return sa.and_(self._prefilter(ra0, dec0, radius), separation < sa.literal(radius))

    @staticmethod
    def _prefilter(ra0: float, dec0: float, radius: float) -> sa.ColumnElement[bool]:
        margin = radius + 1e-6  # a superset: the exact test follows
        lo = math.floor((max(dec0 - margin, -90) + 90) / SKY_ZONE_HEIGHT_DEG)
        hi = math.floor((min(dec0 + margin, 90) + 90) / SKY_ZONE_HEIGHT_DEG)
        zones = _O.c.sky_zone.between(lo, hi)
        pole = max(abs(dec0 - margin), abs(dec0 + margin))
        if pole >= 89.9 or margin >= 90:
            return zones
        # the widest RA extent of the cone, at the declination farthest from the equator
        half = math.degrees(math.asin(min(1.0, math.sin(math.radians(margin)) / math.cos(math.radians(pole)))))
        lo_ra, hi_ra = ra0 - half, ra0 + half
        ra = _O.c.ra_pnt_deg
        if lo_ra < 0:
            return sa.and_(zones, sa.or_(ra >= lo_ra + 360, ra <= hi_ra))
        if hi_ra >= 360:
            return sa.and_(zones, sa.or_(ra >= lo_ra, ra <= hi_ra - 360))
        return sa.and_(zones, ra.between(lo_ra, hi_ra))

    def to_dict(self) -> dict:
        spherical = self.center.spherical
        center = {"frame": self.center.frame.name, "lon": quantity_json(spherical.lon, "deg"),
                  "lat": quantity_json(spherical.lat, "deg")}  # fmt: skip
        return {"type": self.kind, "center": center, "radius": quantity_json(self.radius, "deg"),
                "border": quantity_json(self.border, "deg")}  # fmt: skip

    @classmethod
    def from_dict(cls, data):
        from astropy.coordinates import SkyCoord

        c = data["center"]
        center = SkyCoord(_quantity(c["lon"]), _quantity(c["lat"]), frame=c["frame"])
        return cls(center, _quantity(data["radius"]), border=_quantity(data["border"]))


def _quantity(data: dict):
    from astropy import units as u

    return u.Quantity(data["value"], data["unit"])


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
        lo, hi = (_quantity(data[k]) if isinstance(data[k], dict) else data[k] for k in ("lo", "hi"))
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

    def clause(self):
        like = self.pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = like.replace("*", "%").replace("?", "_")
        return sa.func.lower(_O.c.object).like(sa.literal(like.lower()), escape="\\")

    def to_dict(self) -> dict:
        return {"type": self.kind, "pattern": self.pattern}

    @classmethod
    def from_dict(cls, data):
        return cls(data["pattern"])
