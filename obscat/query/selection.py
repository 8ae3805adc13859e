"""Typed observation selections that compile to SQL with bound parameters.

A selection is a tree of criteria (:class:`Cone`, :class:`TimeRange`,
:class:`ValueRange`, :class:`Ids`, :class:`Store`, :class:`ObjectName`,
combined with :class:`And`, :class:`Or` and ``inverted=True``).  Each compiles
to a SQLAlchemy expression over the ``observation`` table; user values only
ever travel as bound parameters, and column names come from the schema's
allow-list.  The semantics are Gammapy's ``select_observations``: strict
``<`` for cones, half-open value ranges (equality when ``lo == hi``), whole
containment in a time range unless ``partial_overlap``.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

from ..errors import InputError, ObscatError, did_you_mean, printable
from ..store.models import (
    POINTING_COLUMNS,
    SKY_ZONE_HEIGHT_DEG,
    DataStore,
    Observation,
    Pointing,
    observation_column,
    observation_column_info,
)
from ..text import plural

__all__ = [
    "Criterion",
    "explain_empty",
    "POINTING_COLUMNS",
    "pointing_not_computed",
    "unknown_column",
    "no_observation_error",
    "Cone",
    "TimeRange",
    "ValueRange",
    "Ids",
    "Store",
    "ObjectName",
    "And",
    "Or",
    "parse_where",
    "without",
    "from_gammapy",
    "from_options",
    "NUMERIC_COLUMNS",
    "TEXT_COLUMNS",
]

_O = Observation.__table__
_S = DataStore.__table__
#: Columns selections and --where may name: the numeric observation columns.
NUMERIC_COLUMNS = tuple(
    c.name for c in _O.columns
    if c.type.python_type in (int, float) and c.name not in ("id", "store_id", "sky_zone")
) + POINTING_COLUMNS  # fmt: skip
#: Text columns --where compares with ``==``/``!=`` and a quoted string, and ``group by`` takes.
TEXT_COLUMNS = ("obs_mode", "event_type", "event_class", "irf_name")


class Criterion:
    """A node of a selection tree."""

    inverted: bool = False

    def clause(self) -> sa.ColumnElement[bool]:
        expression = self._clause()
        return sa.not_(expression) if self.inverted else expression

    def _clause(self) -> sa.ColumnElement[bool]:  # pragma: no cover - abstract
        raise NotImplementedError


def pointing_not_computed(column: str, n: int) -> InputError:
    """The error for pointing ``column`` being NULL for ``n`` observations."""
    return InputError(f"{column} is not computed for {plural(n, 'observation')}: "
                      "run `obscat pointing` (obscat.compute.pointing.compute_pointing) first")  # fmt: skip


def unknown_column(column: str, where: str = "", *, text: bool = False) -> InputError:
    """The error for a name that is not a numeric observation column (nor, with ``text``, a
    text one), with a did-you-mean."""
    known = NUMERIC_COLUMNS + (TEXT_COLUMNS if text else ())
    also = f"; text: {', '.join(TEXT_COLUMNS)}" if text else ""
    return InputError(f"unknown column {column!r}{where}{did_you_mean(column, known)} "
                      f"(numeric observation columns: {', '.join(NUMERIC_COLUMNS)}{also})")  # fmt: skip


def explain_empty(conn, criterion: Criterion) -> None:
    """Raise why ``criterion`` keeps nothing if it is not the criteria's values: an empty
    catalogue, a store that does not exist, a pointing column not computed yet."""
    from ..store.rows import empty_catalog_error, store_id

    if (error := empty_catalog_error(conn)) is not None:
        raise error
    for node in _nodes(criterion):
        if isinstance(node, Store):
            store_id(conn, node.name)
        column = getattr(node, "column", None)
        if column in POINTING_COLUMNS:
            computed = conn.execute(sa.select(sa.func.count(Pointing.__table__.c[column]))).scalar_one()
            if computed == 0:
                raise pointing_not_computed(column, conn.execute(sa.select(sa.func.count()).select_from(_O)).scalar_one())


def no_observation_error(conn, criterion: Criterion) -> ObscatError:
    """The error for a selection that keeps nothing (see :func:`explain_empty`)."""
    explain_empty(conn, criterion)
    return InputError("the selection holds no observation")


def _nodes(criterion: Criterion):
    yield criterion
    for child in getattr(criterion, "criteria", ()):
        yield from _nodes(child)


@dataclass(frozen=True)
class And(Criterion):
    criteria: tuple[Criterion, ...]
    inverted: bool = False

    def _clause(self):
        return sa.and_(sa.true(), *(c.clause() for c in self.criteria))


@dataclass(frozen=True)
class Or(Criterion):
    criteria: tuple[Criterion, ...]
    inverted: bool = False

    def _clause(self):
        return sa.or_(sa.false(), *(c.clause() for c in self.criteria))


@dataclass(frozen=True)
class Cone(Criterion):
    """Pointings strictly closer than ``radius_deg + border_deg`` to a sky position.

    The separation is the Vincenty great-circle formula astropy uses; a
    declination-zone and RA-range prefilter on the indexed
    (``sky_zone``, ``ra_pnt_deg``) columns keeps it from scanning the table.
    """

    lon_deg: float
    lat_deg: float
    radius_deg: float
    frame: str = "icrs"
    border_deg: float = 0.0
    inverted: bool = False

    def __post_init__(self) -> None:
        values = (self.lon_deg, self.lat_deg, self.radius_deg, self.border_deg)
        if not all(math.isfinite(v) for v in values):
            raise InputError(f"cone values must be finite numbers, got {values}")
        if not -90 <= self.lat_deg <= 90:
            raise InputError(f"cone latitude {self.lat_deg} is outside [-90, 90] deg")
        if self.radius_deg + self.border_deg < 0:
            border = f" + border {self.border_deg!r} deg" if self.border_deg else ""
            raise InputError(f"cone radius {self.radius_deg!r} deg{border} is negative")
        if self.frame not in ("icrs", "galactic"):
            raise InputError(f"unknown frame {self.frame!r} (icrs or galactic)")

    def center_icrs(self) -> tuple[float, float]:
        if self.frame == "icrs":
            return self.lon_deg, self.lat_deg
        from astropy.coordinates import SkyCoord

        icrs = SkyCoord(self.lon_deg, self.lat_deg, unit="deg", frame=self.frame).icrs
        return float(icrs.ra.deg), float(icrs.dec.deg)

    def _clause(self):
        ra0, dec0 = self.center_icrs()
        radius = self.radius_deg + self.border_deg
        return sa.and_(self._prefilter(ra0, dec0, radius), separation_deg(ra0, dec0) < sa.literal(radius))

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


def separation_deg(ra0: float, dec0: float) -> sa.ColumnElement[float]:
    """SQL for the Vincenty separation (deg) of each pointing from (ra0, dec0)."""
    f = sa.func
    lon1, lat1 = math.radians(ra0), math.radians(dec0)
    lon2, lat2 = f.radians(_O.c.ra_pnt_deg), f.radians(_O.c.dec_pnt_deg)
    dlon = lon2 - sa.literal(lon1)
    s1, c1 = sa.literal(math.sin(lat1)), sa.literal(math.cos(lat1))
    num1 = f.cos(lat2) * f.sin(dlon)
    num2 = c1 * f.sin(lat2) - s1 * f.cos(lat2) * f.cos(dlon)
    den = s1 * f.sin(lat2) + c1 * f.cos(lat2) * f.cos(dlon)
    return f.degrees(f.atan2(f.sqrt(num1 * num1 + num2 * num2), den))


@dataclass(frozen=True)
class TimeRange(Criterion):
    """Observations inside [start, stop] (TT MJD); with ``partial_overlap`` any overlap."""

    start_mjd: float
    stop_mjd: float
    partial_overlap: bool = False
    inverted: bool = False

    def __post_init__(self) -> None:
        if self.start_mjd > self.stop_mjd:
            raise InputError(f"time range starts after it stops (MJD {self.start_mjd!r} > {self.stop_mjd!r}, TT): "
                             "no observation can match")  # fmt: skip

    @classmethod
    def from_times(cls, start, stop, **kwargs) -> TimeRange:
        """From astropy Times, ISO strings or MJD numbers (UTC for strings, as astropy)."""
        from astropy.time import Time

        def mjd(value) -> float:
            try:
                time = value if isinstance(value, Time) else Time(value, format="mjd" if _is_number(value) else None)
            except ValueError as exc:
                raise InputError(f"bad time {value!r}: {exc}") from None
            return float(time.tt.mjd)

        start_mjd, stop_mjd = mjd(start), mjd(stop)
        if start_mjd > stop_mjd:
            raise InputError(f"time range starts at {start} after it stops at {stop}: no observation can match")
        return cls(start_mjd, stop_mjd, **kwargs)

    def _clause(self):
        t0, t1 = sa.literal(self.start_mjd), sa.literal(self.stop_mjd)
        if self.partial_overlap:
            return sa.and_(t0 <= _O.c.tstop_mjd, t1 >= _O.c.tstart_mjd)
        return sa.and_(t0 <= _O.c.tstart_mjd, t1 >= _O.c.tstop_mjd)


@dataclass(frozen=True)
class ValueRange(Criterion):
    """``lo <= column < hi`` in the column's storage unit; ``column == lo`` when lo == hi."""

    column: str
    lo: float
    hi: float
    inverted: bool = False

    def __post_init__(self) -> None:
        if self.column not in NUMERIC_COLUMNS:
            raise unknown_column(self.column)
        if not (math.isfinite(self.lo) and math.isfinite(self.hi)):
            raise InputError(f"range of {self.column} must be finite numbers, got ({self.lo}, {self.hi})")
        if self.lo > self.hi:
            raise InputError(f"range of {self.column}: the lower bound {self.lo!r} is above the upper bound "
                             f"{self.hi!r}: no observation can match")  # fmt: skip

    @classmethod
    def with_units(cls, column: str, lo, hi, **kwargs) -> ValueRange:
        """From Quantities (converted to the column's unit) or plain numbers (taken as is)."""
        from astropy import units as u

        if column not in NUMERIC_COLUMNS:
            raise unknown_column(column)
        unit = observation_column_info(column).get("unit")
        values = []
        for value in (lo, hi):
            if isinstance(value, u.Quantity):
                try:
                    value = value.to_value(unit or u.dimensionless_unscaled, equivalencies=u.temperature())
                except u.UnitsError:
                    raise InputError(f"{value} is not convertible to the unit of {column} ({unit or 'dimensionless'})") from None
            values.append(float(value))
        return cls(column, values[0], values[1], **kwargs)

    def _clause(self):
        column = observation_column(self.column)
        if math.isclose(self.lo, self.hi, rel_tol=1e-5, abs_tol=1e-8):  # np.allclose, as Gammapy
            return column == sa.literal(self.lo)
        return sa.and_(column >= sa.literal(self.lo), column < sa.literal(self.hi))


@dataclass(frozen=True)
class Ids(Criterion):
    obs_ids: tuple[int, ...]
    inverted: bool = False

    def _clause(self):
        return _O.c.obs_id.in_([int(i) for i in self.obs_ids])


@dataclass(frozen=True)
class Store(Criterion):
    name: str
    inverted: bool = False

    def __post_init__(self) -> None:
        _no_nul(self.name, "store name")

    def _clause(self):
        return _O.c.store_id.in_(sa.select(_S.c.id).where(_S.c.name == sa.literal(self.name)))


@dataclass(frozen=True)
class ObjectName(Criterion):
    """OBJECT matches a pattern: ``*`` any characters, ``?`` one (case-insensitive)."""

    pattern: str
    inverted: bool = False

    def __post_init__(self) -> None:
        _no_nul(self.pattern, "object pattern")

    def _clause(self):
        like = self.pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = like.replace("*", "%").replace("?", "_")
        return sa.func.lower(_O.c.object).like(sa.literal(like.lower()), escape="\\")


def _no_nul(text: str, what: str) -> None:
    """Refuse a NUL character: no stored text holds one (PostgreSQL text cannot)."""
    if "\x00" in text:
        raise InputError(f"{what} '{printable(text)}' contains a NUL character")


def without(criterion: Criterion, kind: type[Criterion]) -> Criterion | None:
    """``criterion`` with every criterion of ``kind`` (a :class:`Cone` or :class:`TimeRange`,
    inverted or not) replaced by "always true"; None if it has none.

    Observations without a sky pointing (NULL RA_PNT/DEC_PNT) are never in a cone nor outside
    it, nor are those without times in a time range: this is the selection they would have met
    but for those criteria.
    """
    if isinstance(criterion, kind):
        return And(())
    if isinstance(criterion, (And, Or)):
        parts = [without(c, kind) for c in criterion.criteria]
        if all(p is None for p in parts):
            return None
        return replace(criterion, criteria=tuple(c if p is None else p for c, p in zip(criterion.criteria, parts)))
    return None


# -- the --where language ------------------------------------------------------------------

_COMPARISONS = {ast.Lt: "__lt__", ast.LtE: "__le__", ast.Gt: "__gt__", ast.GtE: "__ge__", ast.Eq: "__eq__",
                ast.NotEq: "__ne__"}  # fmt: skip


@dataclass(frozen=True)
class Compare(Criterion):
    """``column <op> value`` from the --where language."""

    column: str
    op: str
    value: float | str
    inverted: bool = False

    def _clause(self):
        return getattr(observation_column(self.column), self.op)(sa.literal(self.value))


def parse_where(text: str) -> Criterion:
    """Parse e.g. ``"zen_pnt_deg < 30 and (muoneff >= 0.9 or not n_tels == 3)"``.

    Python's expression grammar is the parser; only ``and``/``or``/``not``,
    comparisons (chains allowed), numeric columns of the allow-list and number
    literals are accepted, everything else is an error naming it.
    """
    if len(text) > 10_000:
        raise InputError("--where is longer than 10000 characters")
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as exc:
        raise InputError(f"malformed --where {text!r}: {exc.msg}") from None
    except (RecursionError, MemoryError):  # Python's parser on thousands of nested operators
        raise InputError(f"malformed --where {text!r}: nested more than {MAX_WHERE_DEPTH} levels deep") from None
    return _node(tree, text)


#: How deeply ``and``/``or``/``not`` may nest in --where (SQL compilers recurse too).
MAX_WHERE_DEPTH = 100


def _node(node: ast.AST, text: str, depth: int = 0) -> Criterion:
    if depth > MAX_WHERE_DEPTH:
        raise InputError(f"malformed --where {text!r}: nested more than {MAX_WHERE_DEPTH} levels deep")
    if isinstance(node, ast.BoolOp):
        parts = tuple(_node(v, text, depth + 1) for v in node.values)
        return And(parts) if isinstance(node.op, ast.And) else Or(parts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _node(node.operand, text, depth + 1)
        return And((inner,), inverted=True)
    if isinstance(node, ast.Call):
        return _call(node, text)
    if isinstance(node, ast.Compare):
        left, parts = node.left, []
        for op, right in zip(node.ops, node.comparators):
            parts.append(_compare(left, op, right, text))
            left = right
        return parts[0] if len(parts) == 1 else And(tuple(parts))
    raise InputError(f"malformed --where {text!r}: {_describe(node, text)} is not allowed")


#: --where functions: name -> (argument kinds, criterion); "n" a number, "s" a quoted string,
#: "t" either (a time: MJD or ISO), "?" starts the optional ones.
_CALLS = {
    "cone": ("nnn?s", lambda lon, lat, r, frame="icrs": Cone(lon, lat, r, frame=frame)),
    "time": ("tt", lambda start, stop: TimeRange.from_times(start, stop)),
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
    args = []
    for kind, arg in zip(kinds.replace("?", ""), node.args):
        if kind == "n" or (kind == "t" and not (isinstance(arg, ast.Constant) and isinstance(arg.value, str))):
            args.append(_number(arg, text))
        elif isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            args.append(arg.value)
        else:
            raise InputError(f"malformed --where {text!r}: {_describe(arg, text)} is not a quoted string")
    return make(*args)


def _compare(left: ast.AST, op: ast.cmpop, right: ast.AST, text: str) -> Criterion:
    if type(op) not in _COMPARISONS:
        raise InputError(f"malformed --where {text!r}: operator {type(op).__name__} is not allowed")
    if isinstance(left, ast.Name) and isinstance(right, ast.Name):
        raise InputError(f"malformed --where {text!r}: compare a column with a number")
    if isinstance(right, ast.Name):  # 30 > zen_pnt_deg
        flipped = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE}.get(type(op), type(op))
        left, op, right = right, flipped(), left
    if not isinstance(left, ast.Name):
        raise InputError(f"malformed --where {text!r}: {_describe(left, text)} is not a column")
    if left.id in TEXT_COLUMNS:
        if type(op) not in (ast.Eq, ast.NotEq) or not (isinstance(right, ast.Constant) and isinstance(right.value, str)):
            raise InputError(f"malformed --where {text!r}: compare text column {left.id} with == or != and a quoted "
                             "string")  # fmt: skip
        return Compare(left.id, _COMPARISONS[type(op)], right.value)
    if left.id not in NUMERIC_COLUMNS:
        raise unknown_column(left.id, " in --where", text=True)
    value = _number(right, text)
    return Compare(left.id, _COMPARISONS[type(op)], value)


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


# -- command-line options -------------------------------------------------------------------

INVERTIBLE = ("cone", "time", "range", "object", "obs-id", "where")


def from_options(
    *,
    store: str | None = None,
    obs_ids: list[int] | None = None,
    cone: str | None = None,
    frame: str = "icrs",
    border: float = 0.0,
    time_start: str | None = None,
    time_stop: str | None = None,
    partial_overlap: bool = False,
    ranges: list[str] | None = None,
    object_pattern: str | None = None,
    where: str | None = None,
    invert: list[str] | None = None,
) -> Criterion:
    """The AND of the criteria given as command-line options (``--invert NAME`` negates one)."""
    invert = set(invert or ())
    unknown = invert - set(INVERTIBLE)
    if unknown:
        raise InputError(f"--invert takes {', '.join(INVERTIBLE)}, not {sorted(unknown)[0]!r}")
    parts: list[Criterion] = []
    if store is not None:
        parts.append(Store(store))
    if obs_ids:
        parts.append(Ids(tuple(obs_ids), inverted="obs-id" in invert))
    if cone is not None:
        values = _floats(cone, "--cone", 3)
        parts.append(Cone(*values, frame=frame, border_deg=border, inverted="cone" in invert))
    if (time_start is None) != (time_stop is None):
        raise InputError("give both --time-start and --time-stop")
    if time_start is not None:
        parts.append(TimeRange.from_times(time_start, time_stop, partial_overlap=partial_overlap,
                                          inverted="time" in invert))  # fmt: skip
    for text in ranges or ():
        parts.append(_range(text, inverted="range" in invert))
    if object_pattern is not None:
        parts.append(ObjectName(object_pattern, inverted="object" in invert))
    if where is not None:
        inner = parse_where(where)
        parts.append(And((inner,), inverted="where" in invert))
    return And(tuple(parts))


def _floats(text: str, option: str, n: int) -> list[float]:
    parts = text.replace(",", " ").split()
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != n:
        raise InputError(f"{option} takes {n} numbers, got {text!r}")
    return values


def _range(text: str, inverted: bool) -> ValueRange:
    """``"COLUMN LO HI"``; LO and HI may carry a unit (``"zen_pnt_deg 0.3rad 40deg"``)."""
    from astropy import units as u

    parts = text.split()
    if len(parts) != 3:
        raise InputError(f"--range takes 'COLUMN LO HI', got {text!r}")
    column, *bounds = parts
    try:
        values = [u.Quantity(b) for b in bounds]
    except (TypeError, ValueError):
        raise InputError(f"--range bounds must be numbers, optionally with a unit: got {text!r}") from None
    if all(v.unit == u.dimensionless_unscaled for v in values):
        return ValueRange(column, float(values[0].value), float(values[1].value), inverted=inverted)
    return ValueRange.with_units(column, *values, inverted=inverted)


# -- Gammapy selection dicts ---------------------------------------------------------------


def from_gammapy(selections: dict | list[dict]) -> Criterion:
    """A selection from Gammapy ``select_observations`` dicts (a list means AND)."""
    from astropy import units as u
    from astropy.coordinates import Angle

    items = [selections] if isinstance(selections, dict) else list(selections)
    out = []
    for item in items:
        item = dict(item)
        kind = item.pop("type", None)
        inverted = bool(item.pop("inverted", False))
        if kind == "sky_circle":
            deg = {k: Angle(item.pop(k, 0), "deg").deg for k in ("lon", "lat", "radius", "border")}
            out.append(Cone(deg["lon"], deg["lat"], deg["radius"], frame=item.pop("frame"), border_deg=deg["border"],
                            inverted=inverted))  # fmt: skip
        elif kind == "time_box":
            start, stop = item.pop("time_range")
            out.append(TimeRange.from_times(start, stop, partial_overlap=item.pop("partial_overlap", False),
                                            inverted=inverted))  # fmt: skip
        elif kind == "par_box":
            column = _gammapy_column(item.pop("variable"))
            lo, hi = (u.Quantity(v) for v in item.pop("value_range"))  # numbers, Quantities or "20 deg"
            out.append(ValueRange.with_units(column, lo, hi, inverted=inverted))
        else:
            raise InputError(f"Invalid selection type: {kind}")
        if item:
            raise InputError(f"unknown selection keys {sorted(item)} for {kind}")
    return out[0] if len(out) == 1 else And(tuple(out))


def _gammapy_column(variable: str) -> str:
    from ..store.models import gadf_columns

    column = gadf_columns().get(variable.upper())
    if column is None or column.name not in NUMERIC_COLUMNS:
        raise InputError(f"unknown column {variable!r} for par_box")
    return column.name


def _is_number(value: Any) -> bool:
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False
