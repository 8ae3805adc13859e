"""Map IRFs (image HDUs of ground arrays: HAWC, SWGO, LHAASO-style) evaluated at a sky position.

Gammapy 2.1's ``get_irfs_features`` evaluates a ``PSFMap`` and an
``EDispKernelMap`` at a sky position (by default the PSF map's centre), not at
an offset from the pointing.  :class:`PsfMap` interpolates the PSF map linearly
in its pixel coordinates and reduces it to a ``psf_table``-like
:class:`~obscat.compute.irf.Irf` whose "offset" axis is the latitude pixel index, then
the ``PSF3D`` containment rule applies.  :class:`EdispKernelMap` takes the
kernel of the nearest valid pixel and its moments as ``EDispKernel.get_bias``
and ``get_resolution`` do.  docs/ground-arrays.md has the details.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError
from ..gadf.fits import read_header
from .irf import Axis, Irf, _rebuilt
from .irf_features import _inside, _lerp, psf_containment_radius

if TYPE_CHECKING:
    from astropy.io import fits

__all__ = ["PsfMap", "read_psf_map", "EdispKernelMap", "read_edisp_kernel_map", "read_map_centre"]

_DEG2_PER_SR = (180.0 / np.pi) ** 2


@dataclass(frozen=True)
class PsfMap:
    """A ``psf_map`` HDU: data (energy_true, rad, lat, lon) in deg⁻², its axes and sky WCS."""

    data: np.ndarray
    energy_edges: np.ndarray  # TeV
    rad_edges: np.ndarray  # deg
    header: fits.Header
    where: str

    def centre(self):
        """The map centre (Gammapy's ``geom.center_skydir``)."""
        return _centre(self.header)

    def pixel(self, position: tuple[float, float] | None) -> tuple[float, float]:
        """Pixel (x, y) of an ICRS position (deg), or of the map centre when None (Gammapy's default)."""
        from astropy.coordinates import SkyCoord

        ny, nx = self.data.shape[2:]
        if position is None:
            return (nx - 1) / 2.0, (ny - 1) / 2.0
        x, y = _celestial(self.header).world_to_pixel(SkyCoord(*position, unit="deg", frame="icrs"))
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
        with _image_and_bands(path, extname) as (image, bands):
            data = np.asarray(image.data, dtype=float)
            header = image.header.copy()
            rad_lo, rad_hi = np.asarray(bands.data["RAD_MIN"], float), np.asarray(bands.data["RAD_MAX"], float)
            e_lo = np.asarray(bands.data["ENERGY_TRUE_MIN"], float)
            e_hi = np.asarray(bands.data["ENERGY_TRUE_MAX"], float)
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


def _centre(header: fits.Header):
    """The centre of a map image HDU as a SkyCoord in its frame, as ``WcsGeom.center_skydir``."""
    from astropy.coordinates import SkyCoord

    nx, ny = header["NAXIS1"], header["NAXIS2"]
    return SkyCoord.from_pixel((nx - 1) / 2.0, (ny - 1) / 2.0, _celestial(header))


def read_map_centre(path: str, extname: str, where: str):
    """The centre of the map image HDU ``extname`` of ``path``, from its header alone."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _centre(read_header(path, extname).astropy_header())
    except (KeyError, IndexError, ValueError) as exc:
        raise InputError(f"{where}: not a map image HDU ({exc})") from None


def _celestial(header: fits.Header):
    """The celestial WCS of a map HDU header."""
    from astropy.wcs import WCS

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy's notes on non-standard WCS keywords
        return WCS(header).celestial


@dataclass(frozen=True)
class EdispKernelMap:
    """An ``edisp_kernel_map`` HDU: kernels (energy_true, energy, lat, lon) with the file's dtype,
    the edges and centres of both energy axes (TeV, as Gammapy's ``MapAxis`` rebuilds them) and its WCS."""

    data: np.ndarray
    energy_true: Axis
    energy: Axis
    header: fits.Header
    where: str

    def centre(self):
        """The map centre (Gammapy's ``geom.center_skydir``)."""
        return _centre(self.header)

    def kernel(self, position) -> np.ndarray:
        """``EDispKernelMap.get_edisp_kernel(position)``'s data: the kernel of the pixel nearest
        ``position`` (a SkyCoord, any frame), or of the nearest pixel holding any non-zero
        value when that one has none (by angular distance between pixel centres)."""
        from astropy.coordinates import SkyCoord

        ny, nx = self.data.shape[2:]
        wcs = _celestial(self.header)
        x, y = (float(v) for v in wcs.world_to_pixel(position))
        valid = np.any(self.data > 0, axis=(0, 1))
        ix, iy = (np.floor(v + 0.5) if np.isfinite(v) else -1 for v in (x, y))  # Map.get_by_coord's pixel
        inside = 0 <= ix < nx and 0 <= iy < ny
        if not (inside and valid[int(iy), int(ix)]) and valid.any():
            grid_y, grid_x = np.mgrid[:ny, :nx]
            separation = SkyCoord.from_pixel(grid_x, grid_y, wcs).separation(position).deg
            separation[~valid] = np.inf
            iy, ix = np.unravel_index(np.argmin(separation), valid.shape)
        else:  # scipy's nearest neighbour (ties go down), clamped to the map, as Map.interp_by_coord
            ix, iy = _nearest(x, nx), _nearest(y, ny)
        plane = self.data[:, :, iy, ix]
        if np.any(np.isfinite(self.data)):  # Gammapy zeroes non-finite values, unless all are
            plane = np.where(np.isfinite(plane), plane, 0).astype(self.data.dtype)
        return plane

    def moments(self, energy_tev: float, position) -> tuple[float, float]:
        """``(edisp-res, edisp-bias)`` of the kernel at ``position``, as ``EDispKernel.get_resolution``
        and ``get_bias``: over the reco-energy centres of the true-energy row holding ``energy_tev``,
        relative to that row's centre."""
        edges = self.energy_true.bin_edges(self.where)
        i = int(np.digitize(energy_tev, edges)) - 1
        if not 0 <= i < len(edges) - 1:
            raise InputError(f"{self.where}: true energy {energy_tev:g} TeV is outside the map's range "
                             f"[{edges[0]:g}, {edges[-1]:g}) TeV")  # fmt: skip
        if not np.any(self.data > 0):
            raise InputError(f"{self.where}: the energy dispersion map is all zeros")
        pdf = self.kernel(position)[i]
        norm = np.sum(pdf)  # in the file's dtype, as Gammapy sums it
        if not norm > 0:  # Gammapy: bias -1 and resolution NaN (0/0)
            raise InputError(f"{self.where}: the energy dispersion kernel is empty at {energy_tev:g} TeV "
                             f"(true-energy bin [{edges[i]:.6g}, {edges[i + 1]:.6g}) TeV) at this position")  # fmt: skip
        centres, e_star = self.energy.nodes, self.energy_true.nodes[i]
        mean = np.sum(pdf * centres) / norm
        var = np.sum((centres - mean) ** 2 * pdf) / norm
        return float(np.sqrt(var) / e_star), float((mean - e_star) / e_star)


def _nearest(pixel: float, n: int) -> int:
    """Index of scipy's nearest-neighbour interpolation on the grid 0..n-1 (clamped to it)."""
    if n == 1 or not np.isfinite(pixel):
        return 0
    i = int(np.clip(np.searchsorted(np.arange(n), pixel) - 1, 0, n - 2))
    return i if pixel - i <= 0.5 else i + 1


def read_edisp_kernel_map(path: str, extname: str, where: str) -> EdispKernelMap:
    """The ``edisp_kernel_map`` image HDU ``extname`` of ``path`` and its ``<extname>_BANDS`` axes."""
    try:
        with _image_and_bands(path, extname) as (image, bands):
            data = image.data.astype(image.data.dtype.newbyteorder("="))
            header = image.header.copy()
            axes = {name: _band_axis(bands, k, name, where) for k, name in enumerate(("energy", "energy_true"))}
    except (KeyError, IndexError) as exc:
        raise InputError(f"{where}: not a GADF energy dispersion kernel map ({exc})") from None
    shape = (len(axes["energy_true"].nodes), len(axes["energy"].nodes))
    if data.ndim != 4 or data.shape[:2] != shape:
        raise InputError(f"{where}: energy dispersion kernel map of shape {data.shape} does not match its bands "
                         f"(energy_true {shape[0]}, energy {shape[1]}, lat, lon expected)")  # fmt: skip
    return EdispKernelMap(data, axes["energy_true"], axes["energy"], header, where)


@contextlib.contextmanager
def _image_and_bands(path: str, extname: str) -> Iterator[tuple[Any, fits.BinTableHDU]]:
    """The image HDU ``extname`` of ``path`` and its bands table (``BANDSHDU``, by default
    ``<extname>_BANDS``, as Gammapy finds it), astropy's warnings silenced; KeyError if either is missing."""
    from astropy.io import fits  # only map IRFs need astropy's FITS reader

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fits.open(path, memmap=False) as hdul:
            image = hdul[extname]
            bands = hdul[image.header.get("BANDSHDU", f"{extname}_BANDS")]
            if image.data is None or not isinstance(bands, fits.BinTableHDU):
                raise KeyError("no image data or no bands table")
            yield image, bands


#: The min/max columns of each energy axis in a GADF ``*_BANDS`` table.
_BAND_COLUMNS = {"energy": ["E_MIN", "E_MAX"], "energy_true": ["ENERGY_TRUE_MIN", "ENERGY_TRUE_MAX"]}


def _band_axis(bands, k: int, name: str, where: str) -> Axis:
    """Energy axis ``name``, the ``k``-th of a GADF ``*_BANDS`` table (AXCOLS<k+1>, INTERP<k+1>),
    in TeV, rebuilt as Gammapy's ``MapAxis`` rebuilds it."""
    import astropy.units as u

    columns = [c.strip() for c in bands.header[f"AXCOLS{k + 1}"].split(",")]
    if columns != _BAND_COLUMNS[name]:
        raise InputError(f"{where}: band axis {k + 1} is {','.join(columns)}, not {name} "
                         f"({','.join(_BAND_COLUMNS[name])})")  # fmt: skip
    rule = bands.header.get(f"INTERP{k + 1}", "lin").strip()
    lo, hi = (np.unique(np.asarray(bands.data[c], dtype=float)) for c in columns)
    try:
        scale = u.Unit(bands.columns[columns[0]].unit or "TeV").to("TeV")
    except (ValueError, u.UnitConversionError):
        raise InputError(f"{where}: band column {columns[0]} is not an energy") from None
    edges = np.append(lo, hi[-1]) * scale
    if len(lo) != len(hi) or not (np.all(np.isfinite(edges)) and edges[0] > 0 and np.all(np.diff(edges) > 0)):
        raise InputError(f"{where}: band columns {','.join(columns)} are not increasing positive energy bins")
    pixels = np.arange(len(edges), dtype=float)
    return Axis(name, nodes=_rebuilt(edges, rule, pixels[:-1] + 0.5), edges=_rebuilt(edges, rule, pixels))
