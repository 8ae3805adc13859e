"""The sky criterion: :class:`Cone`, pointings within an angle of a sky position."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import sqlalchemy as sa

from ..errors import InputError, ParameterError
from ..store.models import SKY_ZONE_HEIGHT_DEG, Observation
from .canonical import quantity_from_json
from .criteria import Criterion
from .sky import separation_deg

__all__ = ["Cone"]

_O = Observation.__table__


def _angle(value, parameter: str):
    """``value`` (an angle Quantity) as a scalar Angle; ParameterError naming ``parameter``."""
    from astropy import units as u
    from astropy.coordinates import Angle

    if not (isinstance(value, u.Quantity) and value.unit.physical_type == "angle" and value.isscalar):
        raise ParameterError(f"`{parameter}` must be an angle, not {value}")
    if not math.isfinite(value.value):
        raise ParameterError(f"`{parameter}` must be finite, not {value}")
    return Angle(value).to(u.deg)


def _degrees(value: float) -> dict:
    """As :func:`~obscat.query.canonical.quantity_json` writes an angle in degrees."""
    return {"unit": "deg", "value": value}


def _wrapped(lon: float) -> float:
    """``lon`` wrapped into [0, 360) as astropy's ``Longitude`` wraps it."""
    wraps = lon // 360.0
    if wraps != 0:
        lon -= wraps * 360.0
        lon = lon - 360.0 if lon >= 360.0 else lon + 360.0 if lon < 0.0 else lon
    return lon


@dataclass(frozen=True, init=False)
class Cone(Criterion):
    """Pointings strictly closer than ``radius + border`` to ``center``.

    ``center`` is a SkyCoord in any frame (or a regions ``CircleSkyRegion``, which also gives the
    radius); ``radius`` and ``border`` are angles. The separation is the Vincenty great-circle
    formula astropy uses; a declination-zone and RA-range prefilter on the indexed
    (``sky_zone``, ``ra_pnt_deg``) columns keeps it from scanning the table.

    The cone is held as numbers (``frame``, ``lon_deg``, ``lat_deg``, ``radius_deg``,
    ``border_deg``): :meth:`from_degrees` makes an ICRS cone without importing astropy, and
    ``center``, ``radius`` and ``border`` give it back as astropy objects.
    """

    frame: str
    lon_deg: float
    lat_deg: float
    radius_deg: float
    border_deg: float
    kind: ClassVar[str] = "cone"

    def __init__(self, center, radius=None, border=None) -> None:
        from astropy import units as u
        from astropy.coordinates import SkyCoord

        if not isinstance(center, SkyCoord) and hasattr(center, "center") and hasattr(center, "radius"):
            if radius is not None:
                raise ParameterError("give `radius` only with a SkyCoord `center`, not with a region")
            center, radius = center.center, center.radius  # a regions CircleSkyRegion
        if not (isinstance(center, SkyCoord) and center.isscalar):
            raise ParameterError(f"`center` must be one SkyCoord position (or a CircleSkyRegion), not {center!r}")
        if radius is None:
            raise ParameterError("`radius` is missing: give an angle, e.g. 2 * u.deg")
        radius = _angle(radius, "radius")
        border = _angle(0 * u.deg if border is None else border, "border")
        if radius + border < 0:
            raise ParameterError(f"`radius` {radius} + `border` {border} is negative")
        if center.frame.name not in ("icrs", "galactic"):
            try:
                center = center.icrs
            except Exception as exc:  # frames needing an obstime or location to convert
                raise ParameterError(f"`center` in frame {center.frame.name} cannot be converted to ICRS: {exc}") from None
        spherical, icrs = center.spherical, center.icrs
        self._set(center.frame.name, float(spherical.lon.deg), float(spherical.lat.deg), float(radius.deg),
                  float(border.deg), (float(icrs.ra.deg), float(icrs.dec.deg)))  # fmt: skip
        object.__setattr__(self, "_center", center)

    @classmethod
    def from_degrees(cls, lon: float, lat: float, radius: float, border: float = 0.0, frame: str = "icrs") -> Cone:
        """The cone of a position in ``frame`` (icrs or galactic) and angles, all in degrees, as ``Cone(SkyCoord(
        lon * u.deg, lat * u.deg, frame=frame), radius * u.deg, border * u.deg)`` makes it; ICRS without astropy."""
        values = (lon, lat, radius, border)
        if not all(math.isfinite(v) for v in values):
            raise InputError(f"cone values must be finite numbers, got {values}")
        if not -90 <= lat <= 90:
            raise InputError(f"cone latitude {lat} is outside [-90, 90] deg")
        if radius + border < 0:
            raise InputError(f"cone radius {radius!r} deg{f' + border {border!r} deg' if border else ''} is negative")
        if frame not in ("icrs", "galactic"):
            raise InputError(f"unknown frame {frame!r} (icrs or galactic)")
        if frame == "galactic":  # converted to ICRS for the query: astropy's transformation
            from astropy import units as u
            from astropy.coordinates import SkyCoord

            return cls(SkyCoord(lon * u.deg, lat * u.deg, frame=frame), radius * u.deg, border=border * u.deg)
        cone = object.__new__(cls)
        lon = _wrapped(float(lon))
        cone._set("icrs", lon, float(lat), float(radius), float(border), (lon, float(lat)))
        object.__setattr__(cone, "_center", None)
        return cone

    def _set(self, frame: str, lon: float, lat: float, radius: float, border: float, icrs: tuple[float, float]) -> None:
        for name, value in (("frame", frame), ("lon_deg", lon), ("lat_deg", lat), ("radius_deg", radius),
                            ("border_deg", border), ("_icrs", icrs)):  # fmt: skip
            object.__setattr__(self, name, value)

    @property
    def center(self):
        """The position, a SkyCoord (in ``frame``)."""
        if self._center is None:
            from astropy import units as u
            from astropy.coordinates import SkyCoord

            object.__setattr__(self, "_center", SkyCoord(self.lon_deg * u.deg, self.lat_deg * u.deg, frame=self.frame))
        return self._center

    @property
    def radius(self):
        """The radius, an Angle in degrees."""
        from astropy.coordinates import Angle

        return Angle(self.radius_deg, "deg")

    @property
    def border(self):
        """The border added to the radius, an Angle in degrees."""
        from astropy.coordinates import Angle

        return Angle(self.border_deg, "deg")

    def describe(self) -> str:
        border = f" + border {self.border_deg:g} deg" if self.border_deg else ""
        return f"cone({self.lon_deg:g}, {self.lat_deg:g}, {self.radius_deg:g} deg{border}, {self.frame})"

    def shown(self):
        ra0, dec0 = self._icrs
        return {"separation_deg": separation_deg(ra0, dec0, _O.c.ra_pnt_deg, _O.c.dec_pnt_deg, sa.func)}

    def clause(self):
        ra0, dec0 = self._icrs
        radius = self.radius_deg + self.border_deg
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
        center = {"frame": self.frame, "lon": _degrees(self.lon_deg), "lat": _degrees(self.lat_deg)}
        return {"type": self.kind, "center": center, "radius": _degrees(self.radius_deg),
                "border": _degrees(self.border_deg)}  # fmt: skip

    @classmethod
    def from_dict(cls, data):
        from astropy.coordinates import SkyCoord

        c = data["center"]
        center = SkyCoord(quantity_from_json(c["lon"]), quantity_from_json(c["lat"]), frame=c["frame"])
        return cls(center, quantity_from_json(data["radius"]), border=quantity_from_json(data["border"]))
