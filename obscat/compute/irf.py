"""Reading GADF IRF HDUs into plain arrays, with validation.

Every reader returns an :class:`Irf`: named axes (edges or nodes, in fixed
units: TeV, deg, dimensionless migra) and the data array ordered like the
axes.  Axes keep the file's float32 values cast to float64: a bin edge
shifted in the last digit moves 1 TeV into another bin (see
``REFERENCE_GAMMAPY.md``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from astropy import units as u

from ..errors import InputError
from ..gadf.fits import Table

__all__ = ["Axis", "Irf", "read_irf", "IRF_READERS"]


@dataclass(frozen=True)
class Axis:
    """An IRF axis: bin ``edges`` (None for a node axis) and the ``nodes`` data sit on."""

    name: str
    nodes: np.ndarray
    edges: np.ndarray | None = None

    def bin_edges(self, where: str) -> np.ndarray:
        """The bin edges; an InputError (naming ``where``) for a node axis."""
        if self.edges is None:
            raise InputError(f"{where}: axis {self.name} is given as nodes (_LO = _HI), not as the bins needed here")
        return self.edges


@dataclass(frozen=True)
class Irf:
    """One IRF HDU: its class, axes and data (shape = axis lengths, in axis order)."""

    hdu_class: str
    axes: tuple[Axis, ...]
    data: np.ndarray
    unit: str
    where: str  # "file [HDU]", for error messages
    dtype: np.dtype = np.dtype(np.float64)  # the value column's float type in the file

    def file_values(self) -> np.ndarray:
        """The data in the file's float type (float32 for most files), as Gammapy holds it."""
        return self.data.astype(self.dtype)

    def axis(self, name: str) -> Axis:
        return next(a for a in self.axes if a.name == name)

    def edges(self, name: str) -> np.ndarray:
        """The bin edges of axis ``name`` (an InputError for a node axis)."""
        return self.axis(name).bin_edges(self.where)


# (column prefix, axis name, unit, centre rule) of each GADF axis
_AXES = {
    "ENERG": ("energy_true", "TeV", "log"),
    "ETRUE": ("energy_true", "TeV", "log"),
    "MIGRA": ("migra", "", "lin"),
    "THETA": ("offset", "deg", "lin"),
    "RAD": ("rad", "deg", "lin"),
    "DETX": ("fov_lon", "deg", "lin"),
    "DETY": ("fov_lat", "deg", "lin"),
}

# hdu_class -> (value column, its unit, axis prefixes in data order after transposing)
IRF_READERS: dict[str, tuple[str | tuple[str, ...], str, tuple[str, ...]]] = {
    "aeff_2d": ("EFFAREA", "m2", ("ENERG", "THETA")),
    "edisp_2d": ("MATRIX", "", ("ENERG", "MIGRA", "THETA")),
    "psf_table": ("RPSF", "sr-1", ("ENERG", "THETA", "RAD")),
    "bkg_2d": ("BKG", "s-1 MeV-1 sr-1", ("ENERG", "THETA")),
    "bkg_3d": ("BKG", "s-1 MeV-1 sr-1", ("ENERG", "DETX", "DETY")),
    "rad_max_2d": ("RAD_MAX", "deg", ("ENERG", "THETA")),
    # analytic PSFs: several parameter columns, stacked along a first axis
    "psf_3gauss": (("SCALE", "SIGMA_1", "AMPL_2", "SIGMA_2", "AMPL_3", "SIGMA_3"), "", ("ENERG", "THETA")),
    "psf_king": (("GAMMA", "SIGMA"), "", ("ENERG", "THETA")),
}


def read_irf(table: Table, hdu_class: str, where: str) -> Irf:
    """Read one GADF IRF table HDU of class ``hdu_class`` (see ``IRF_READERS``)."""
    if hdu_class not in IRF_READERS:
        raise InputError(f"{where}: IRF class {hdu_class!r} is not supported for features")
    value_names, unit, prefixes = IRF_READERS[hdu_class]
    if isinstance(value_names, tuple):
        params = [_values(table, hdu_class, name, None, prefixes, where) for name in value_names]
        return Irf(hdu_class=hdu_class, axes=params[0][0], data=np.stack([v for _, v in params]), unit="",
                   where=where)  # fmt: skip
    if hdu_class.startswith("bkg") and not _has_column(table, "BKG") and _has_column(table, "BGD"):
        value_names = "BGD"  # CTA 1DC / prod3 background tables, read by Gammapy as BKG
    axes, values = _values(table, hdu_class, value_names, unit, prefixes, where)
    dtype = np.dtype(np.float32) if table.rows[value_names].dtype.base.itemsize == 4 else np.dtype(np.float64)
    return Irf(hdu_class=hdu_class, axes=axes, data=values, unit=unit, where=where, dtype=dtype)


def _values(
    table: Table, hdu_class: str, value_name: str, unit: str | None, prefixes: tuple[str, ...], where: str
) -> tuple[tuple[Axis, ...], np.ndarray]:
    """The axes and one value column of an IRF table, checked and in storage units
    (``unit=None``: a parameter of an analytic PSF, taken as stored, widths in deg)."""
    data = table.rows
    names = [n.upper() for n in data.dtype.names or ()]
    prefixes = tuple(_present_prefix(p, names) for p in prefixes)
    needed = [value_name] + [f"{p}_{s}" for p in prefixes for s in ("LO", "HI")]
    missing = [n for n in needed if n not in names]
    if missing:
        raise InputError(f"{where}: missing column {', '.join(missing)}")
    if len(data) < 1:
        raise InputError(f"{where}: the IRF table has no rows")
    axes = tuple(_axis(table, p, where) for p in prefixes)
    values = np.asarray(data[value_name][0], dtype=float).T  # FITS order is reversed
    expected = tuple(len(a.nodes) for a in axes)
    if hdu_class == "bkg_3d" and values.shape != expected and values.T.shape == expected:
        values = values.T  # H.E.S.S. DL3 DR1 stores (DETX, DETY, ENERG) in C order
    if values.shape != expected:
        raise InputError(f"{where}: column {value_name} has shape {values.shape}, expected {expected} from its axes")
    if not np.all(np.isfinite(values)):
        raise InputError(f"{where}: column {value_name} holds NaN or infinite values")
    if unit is None:
        if not value_name.startswith("SIGMA"):
            return axes, values
        unit = "deg"
    return axes, values * _scale(table.units.get(value_name), unit, f"{where}: column {value_name}")


def _has_column(table: Table, name: str) -> bool:
    return name in (n.upper() for n in table.rows.dtype.names or ())


def _present_prefix(prefix: str, names: list[str]) -> str:
    if prefix == "ENERG" and "ENERG_LO" not in names and "ETRUE_LO" in names:
        return "ETRUE"
    return prefix


def _axis(table: Table, prefix: str, where: str) -> Axis:
    name, unit, rule = _AXES[prefix]
    lo = np.asarray(table.rows[f"{prefix}_LO"][0], dtype=np.float64).ravel()
    hi = np.asarray(table.rows[f"{prefix}_HI"][0], dtype=np.float64).ravel()
    scale = _scale(table.units.get(f"{prefix}_LO"), unit, f"{where}: column {prefix}_LO")
    lo, hi = lo * scale, hi * scale
    if lo.shape != hi.shape or len(lo) == 0 or not np.all(np.isfinite(lo)) or not np.all(np.isfinite(hi)):
        raise InputError(f"{where}: axis {prefix}_LO/{prefix}_HI is empty, mismatched or not finite")
    if np.array_equal(lo, hi):  # a node axis (e.g. THETA in H.E.S.S. DL3 DR1)
        if len(lo) > 1 and np.any(np.diff(lo) <= 0):
            raise InputError(f"{where}: axis {prefix}_LO/{prefix}_HI nodes are not increasing")
        return Axis(name, nodes=_rebuilt(lo, rule, np.arange(len(lo), dtype=float)))
    edges = np.append(lo, hi[-1])
    if np.any(np.diff(edges) <= 0) or not np.allclose(lo[1:], hi[:-1], rtol=1e-6):
        raise InputError(f"{where}: axis {prefix}_LO/{prefix}_HI are not contiguous increasing bins")
    pixels = np.arange(len(edges), dtype=float)
    return Axis(name, nodes=_rebuilt(edges, rule, pixels[:-1] + 0.5), edges=_rebuilt(edges, rule, pixels))


def _rebuilt(values: np.ndarray, rule: str, pixels: np.ndarray) -> np.ndarray:
    """Axis coordinates at ``pixels`` exactly as Gammapy's ``MapAxis`` computes them:
    linear interpolation of the (log-)scaled file values over the pixel index, in
    the arithmetic of scipy's extrapolating ``interp1d``, scaled back.  An edge read
    back this way can differ from the file's value in the last bit (10 TeV stored as
    float32 becomes 10.000000000000002), which decides the bin of a value on an edge."""
    if len(values) == 1:
        return values.copy()
    scaled = np.log(values) if rule == "log" else values
    index = np.arange(len(values), dtype=float)
    hi = np.clip(np.searchsorted(index, pixels), 1, len(values) - 1)
    lo = hi - 1
    coords = (scaled[hi] - scaled[lo]) / (index[hi] - index[lo]) * (pixels - index[lo]) + scaled[lo]
    return np.exp(coords) if rule == "log" else coords


def _scale(file_unit: str | None, unit: str, what: str) -> float:
    """Factor from the column's TUNIT to the storage unit (none given: assumed)."""
    if not file_unit or not file_unit.strip():
        return 1.0
    factor = _factor(file_unit.strip(), unit)
    if factor is None:
        raise InputError(f"{what} has unit {file_unit.strip()!r}, not convertible to {unit or 'dimensionless'!r}")
    return factor


@functools.lru_cache(maxsize=256)
def _factor(file_unit: str, unit: str) -> float | None:
    """Unit parsing is slow and IRF files repeat a handful of units: cached."""
    try:
        return u.Unit(file_unit, parse_strict="raise").to(u.Unit(unit) if unit else u.dimensionless_unscaled)
    except (ValueError, u.UnitsError):
        return None
