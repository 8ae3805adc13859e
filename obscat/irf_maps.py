"""Map IRFs (image HDUs of ground arrays: HAWC, SWGO, LHAASO-style) evaluated at a sky position.

Gammapy 2.1's ``get_irfs_features`` evaluates a ``PSFMap`` at a sky position (by
default the map's centre), not at an offset from the pointing: the map is
interpolated linearly in its pixel coordinates, then the containment radius
follows the ``PSF3D`` rule.  :class:`PsfMap` does the same with numpy, by
reducing the map to a ``psf_table``-like :class:`~obscat.irf.Irf` whose
"offset" axis is the latitude pixel index.  docs/ground-arrays.md has the details.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from astropy.io import fits

from .errors import InputError
from .irf import Axis, Irf
from .irf_features import _inside, _lerp, psf_containment_radius

__all__ = ["PsfMap", "read_psf_map"]

_DEG2_PER_SR = (180.0 / np.pi) ** 2


@dataclass(frozen=True)
class PsfMap:
    """A ``psf_map`` HDU: data (energy_true, rad, lat, lon) in deg⁻², its axes and sky WCS."""

    data: np.ndarray
    energy_edges: np.ndarray  # TeV
    rad_edges: np.ndarray  # deg
    header: fits.Header
    where: str

    def pixel(self, position: tuple[float, float] | None) -> tuple[float, float]:
        """Pixel (x, y) of an ICRS position (deg), or of the map centre when None (Gammapy's default)."""
        from astropy.coordinates import SkyCoord
        from astropy.wcs import WCS

        ny, nx = self.data.shape[2:]
        if position is None:
            return (nx - 1) / 2.0, (ny - 1) / 2.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # astropy's notes on non-standard WCS keywords
            wcs = WCS(self.header).celestial
        x, y = wcs.world_to_pixel(SkyCoord(*position, unit="deg", frame="icrs"))
        return float(x), float(y)

    def containment_radius(self, energy_tev: float, position: tuple[float, float] | None, fraction: float) -> float:
        """``PSFMap.containment_radius(fraction, energy_true, position)`` in deg; NaN outside the map."""
        x, y = self.pixel(position)
        nx = self.data.shape[3]
        lon = np.arange(nx, dtype=float)
        if not (np.isfinite(x) and np.isfinite(y)) or not (-0.5 <= x <= nx - 0.5 if nx == 1 else _inside(lon, x)):
            return np.nan
        if not np.any(self.data):
            raise InputError(f"{self.where}: the PSF map is all zeros")
        i, t = _lerp(lon, x)
        plane = self.data[..., i] if nx == 1 else self.data[..., i] * (1.0 - t) + self.data[..., i + 1] * t
        energy, rad = self.energy_edges, self.rad_edges
        irf = Irf(
            "psf_table",
            (Axis("energy_true", np.sqrt(energy[:-1] * energy[1:]), energy),
             Axis("offset", np.arange(plane.shape[2], dtype=float)),  # the latitude pixel index
             Axis("rad", 0.5 * (rad[:-1] + rad[1:]), rad)),
            np.moveaxis(plane, 1, 2) * _DEG2_PER_SR,  # (energy, lat, rad), in sr⁻¹ as psf_table
            "sr-1",
            self.where,
        )  # fmt: skip
        return psf_containment_radius(irf, energy_tev, y, fraction)


def read_psf_map(path: str, extname: str, where: str) -> PsfMap:
    """The ``psf_map`` image HDU ``extname`` of ``path`` and its ``<extname>_BANDS`` axes table."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=False) as hdul:
                image = hdul[extname]
                bands = hdul[f"{extname}_BANDS"].data
                data = np.asarray(image.data, dtype=float)
                header = image.header.copy()
                rad_lo, rad_hi = np.asarray(bands["RAD_MIN"], float), np.asarray(bands["RAD_MAX"], float)
                e_lo = np.asarray(bands["ENERGY_TRUE_MIN"], float)
                e_hi = np.asarray(bands["ENERGY_TRUE_MAX"], float)
    except KeyError as exc:
        raise InputError(f"{where}: not a GADF PSF map ({exc})") from None
    if data.ndim != 4 or len(rad_lo) != data.shape[0] * data.shape[1]:
        raise InputError(f"{where}: PSF map of shape {data.shape} does not match its {len(rad_lo)} bands "
                         "(energy_true, rad, lat, lon expected)")  # fmt: skip
    n_rad = data.shape[1]
    return PsfMap(
        data=data,
        energy_edges=np.append(e_lo[::n_rad], e_hi[-1]),
        rad_edges=np.append(rad_lo[:n_rad], rad_hi[n_rad - 1]),
        header=header,
        where=where,
    )
