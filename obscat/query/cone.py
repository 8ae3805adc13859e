"""The sky criterion: :class:`Cone`, pointings within an angle of a sky position."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import sqlalchemy as sa

from ..errors import ParameterError
from ..store.models import SKY_ZONE_HEIGHT_DEG, Observation
from .canonical import quantity_from_json, quantity_json
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
        center = SkyCoord(quantity_from_json(c["lon"]), quantity_from_json(c["lat"]), frame=c["frame"])
        return cls(center, quantity_from_json(data["radius"]), border=quantity_from_json(data["border"]))
