"""The great-circle separation, written once for Python floats, numpy arrays and SQL."""

from __future__ import annotations

__all__ = ["separation_deg"]


def separation_deg(lon1, lat1, lon2, lat2, xp):
    """Angular separation (deg) of two sky positions given in degrees, by the Vincenty formula
    astropy's ``SkyCoord.separation`` uses.

    ``xp`` is the namespace of ``sin``, ``cos``, ``atan2``, ``sqrt``, ``radians`` and ``degrees``:
    :mod:`math` for floats, :mod:`numpy` for arrays, ``sqlalchemy.func`` for SQL expressions over
    columns (e.g. ``separation_deg(83.6, 22.0, o.c.ra_pnt_deg, o.c.dec_pnt_deg, sa.func)``).
    """
    lon1, lat1, lon2, lat2 = xp.radians(lon1), xp.radians(lat1), xp.radians(lon2), xp.radians(lat2)
    dlon = lon2 - lon1
    s1, c1, s2, c2 = xp.sin(lat1), xp.cos(lat1), xp.sin(lat2), xp.cos(lat2)
    num1 = c2 * xp.sin(dlon)
    num2 = c1 * s2 - s1 * c2 * xp.cos(dlon)
    denominator = s1 * s2 + c1 * c2 * xp.cos(dlon)
    return xp.degrees(xp.atan2(xp.sqrt(num1 * num1 + num2 * num2), denominator))
