"""The closed-form instrument response of the synthetic data stores, and their FITS tables.

:func:`effective_area_m2`, :func:`edisp_bias`, :func:`edisp_resolution`,
:func:`psf_sigma_deg`, :func:`background_rate` and :func:`energy_threshold_tev`
are the models; :func:`irf_hdus` tabulates them as GADF ``aeff_2d``,
``edisp_2d``, ``psf_table`` and ``bkg_3d`` HDUs at one zenith angle, and
:func:`table_hdu` builds any table of numpy columns (:mod:`obscat.gadf.synthetic`
writes the stores).
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits
from numpy.typing import ArrayLike
from scipy.special import ndtr

__all__ = [
    "GADF_HEADER",
    "INSTRUMENT_HEADER",
    "background_rate",
    "edisp_bias",
    "edisp_resolution",
    "effective_area_m2",
    "energy_threshold_tev",
    "irf_hdus",
    "psf_sigma_deg",
    "table_hdu",
]

_HDUDOC = "https://github.com/open-gamma-ray-astro/gamma-astro-data-formats"
GADF_HEADER = {"HDUCLASS": "GADF", "HDUDOC": _HDUDOC, "HDUVERS": "0.3"}
INSTRUMENT_HEADER = {"TELESCOP": "SYNTH", "INSTRUME": "SYNTH", "CREATOR": "obscat.gadf.synthetic"}

# IRF binning (deg, TeV; migra is dimensionless).
_ENERGY_EDGES = np.logspace(-2.0, 2.0, 33)
_THETA_EDGES = np.linspace(0.0, 3.0, 7)
_MIGRA_EDGES = np.geomspace(0.2, 5.0, 101)
_RAD_EDGES = np.linspace(0.0, 1.0, 201)
_DET_EDGES = np.linspace(-3.0, 3.0, 25)
_TFORMS = {"i2": "I", "i4": "J", "i8": "K", "f4": "E", "f8": "D"}


# -- Closed-form instrument response -----------------------------------------------------------


def _cos_zenith(zenith_deg: ArrayLike) -> np.ndarray:
    return np.cos(np.radians(zenith_deg))


def _logistic(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def energy_threshold_tev(zenith_deg: ArrayLike) -> np.ndarray:
    """Energy threshold of the synthetic array.

    Parameters
    ----------
    zenith_deg : array_like
        Zenith angle of the pointing (deg).

    Returns
    -------
    numpy.ndarray
        ``0.12 TeV * cos(zenith) ** -2.5`` (TeV). The effective area reaches
        half its plateau there; it is also written as ``SAFE_ENERGY_LO``.
    """
    return 0.12 * _cos_zenith(zenith_deg) ** -2.5


def effective_area_m2(energy_tev: ArrayLike, offset_deg: ArrayLike, zenith_deg: ArrayLike) -> np.ndarray:
    """Full-enclosure effective area.

    Parameters
    ----------
    energy_tev, offset_deg, zenith_deg : array_like
        True energy (TeV), field-of-view offset (deg) and zenith angle (deg).

    Returns
    -------
    numpy.ndarray
        ``1e5 m2 * cos(z) ** -0.5 * logistic((log10 E - log10 E_thr(z)) / 0.2)
        * exp(-offset**2 / (2 * 1.5**2))`` (m^2).
    """
    log_ratio = np.log10(energy_tev) - np.log10(energy_threshold_tev(zenith_deg))
    plateau = 1.0e5 * _cos_zenith(zenith_deg) ** -0.5
    return plateau * _logistic(log_ratio / 0.2) * np.exp(-0.5 * (np.asarray(offset_deg) / 1.5) ** 2)


def edisp_bias(energy_tev: ArrayLike, zenith_deg: ArrayLike) -> np.ndarray:
    """Energy bias: mean of ``migra = E_reco / E_true`` minus one.

    Parameters
    ----------
    energy_tev, zenith_deg : array_like
        True energy (TeV) and zenith angle (deg).

    Returns
    -------
    numpy.ndarray
        ``0.25 * exp(-E / E_thr(z))`` (dimensionless).
    """
    return 0.25 * np.exp(-np.asarray(energy_tev) / energy_threshold_tev(zenith_deg))


def edisp_resolution(energy_tev: ArrayLike, offset_deg: ArrayLike, zenith_deg: ArrayLike) -> np.ndarray:
    """Energy resolution: Gaussian sigma of ``migra``.

    ``MATRIX`` holds that Gaussian (mean ``1 + edisp_bias``) integrated over
    each ``MIGRA`` bin, renormalised to unit sum over 0.2-5 and divided by the
    bin width, so ``sum(MATRIX * (MIGRA_HI - MIGRA_LO)) == 1``.

    Parameters
    ----------
    energy_tev, offset_deg, zenith_deg : array_like
        True energy (TeV), field-of-view offset (deg) and zenith angle (deg).

    Returns
    -------
    numpy.ndarray
        ``(0.07 + 0.18 / (1 + E / E_thr(z))) * (1 + 0.02 * offset**2)
        * cos(z) ** -0.3`` (dimensionless).
    """
    ratio = np.asarray(energy_tev) / energy_threshold_tev(zenith_deg)
    offset_term = 1.0 + 0.02 * np.asarray(offset_deg) ** 2
    return (0.07 + 0.18 / (1.0 + ratio)) * offset_term * _cos_zenith(zenith_deg) ** -0.3


def psf_sigma_deg(energy_tev: ArrayLike, offset_deg: ArrayLike, zenith_deg: ArrayLike) -> np.ndarray:
    """Width of the 2D Gaussian PSF ``dP/dOmega = exp(-r**2 / 2 s**2) / (2 pi s**2)``.

    The containment radius for a fraction ``f`` is
    ``s * sqrt(-2 * ln(1 - f))``, e.g. ``1.5096 * s`` for 68 %. ``RPSF`` holds
    the average of dP/dOmega over each ``RAD`` bin (flat-sky solid angle
    ``pi * (RAD_HI**2 - RAD_LO**2)``), so its sum over bins is exactly the
    enclosed probability ``1 - exp(-RAD_HI[-1]**2 / 2 s**2)``.

    Parameters
    ----------
    energy_tev, offset_deg, zenith_deg : array_like
        True energy (TeV), field-of-view offset (deg) and zenith angle (deg).

    Returns
    -------
    numpy.ndarray
        ``(0.035 + 0.09 / (1 + (E / 0.3 TeV) ** 0.8)) * (1 + 0.05 * offset**2)
        * cos(z) ** -0.4`` (deg).
    """
    core = 0.035 + 0.09 / (1.0 + (np.asarray(energy_tev) / 0.3) ** 0.8)
    return core * (1.0 + 0.05 * np.asarray(offset_deg) ** 2) * _cos_zenith(zenith_deg) ** -0.4


def background_rate(energy_tev: ArrayLike, offset_deg: ArrayLike, zenith_deg: ArrayLike) -> np.ndarray:
    """Post-selection background rate.

    Parameters
    ----------
    energy_tev, offset_deg, zenith_deg : array_like
        Reconstructed energy (TeV), field-of-view offset ``hypot(DETX, DETY)``
        (deg) and zenith angle (deg).

    Returns
    -------
    numpy.ndarray
        ``1e-4 * (E / TeV) ** -2.7 * logistic((log10 E - log10 E_thr(z)) / 0.2)
        * exp(-offset**2 / (2 * 1.3**2))`` (s^-1 MeV^-1 sr^-1).
    """
    log_ratio = np.log10(energy_tev) - np.log10(energy_threshold_tev(zenith_deg))
    spectrum = 1.0e-4 * np.asarray(energy_tev, dtype=float) ** -2.7 * _logistic(log_ratio / 0.2)
    return spectrum * np.exp(-0.5 * (np.asarray(offset_deg) / 1.3) ** 2)


# -- FITS helpers ------------------------------------------------------------------------------


def table_hdu(columns: dict[str, np.ndarray], units: dict[str, str], name: str, header: dict) -> fits.BinTableHDU:
    """Table of 1-D numpy columns (numbers or ``S`` strings, kept as bytes: no per-row work)."""
    cols = []
    for key, values in columns.items():
        tform = f"{values.dtype.itemsize}A" if values.dtype.kind == "S" else _TFORMS[values.dtype.str[1:]]
        cols.append(fits.Column(name=key, format=tform, unit=units.get(key), array=values))
    return fits.BinTableHDU.from_columns(cols, header=fits.Header(header), name=name, character_as_bytes=True)


def _array_column(name: str, values: np.ndarray, unit: str | None) -> fits.Column:
    values = np.asarray(values, dtype=np.float32)
    dim = "(" + ",".join(str(n) for n in values.shape[::-1]) + ")" if values.ndim > 1 else None
    return fits.Column(name=name, format=f"{values.size}E", unit=unit, dim=dim, array=values[np.newaxis])


def _irf_hdu(
    name: str, hduclas2: str, hduclas4: str, axes: list, value: tuple, zenith_deg: float
) -> fits.BinTableHDU:
    """One-row GADF IRF table: ``*_LO``/``*_HI`` of each axis, then the value column."""
    cols = []
    for axis, edges, unit in axes:
        cols += [_array_column(f"{axis}_LO", edges[:-1], unit), _array_column(f"{axis}_HI", edges[1:], unit)]
    cols.append(_array_column(*value))
    header: dict[str, str | float] = {
        **GADF_HEADER, "HDUCLAS1": "RESPONSE", "HDUCLAS2": hduclas2, "HDUCLAS3": "FULL-ENCLOSURE"
    }  # fmt: skip
    # ZEN_PNT: zenith angle (deg) at which the closed-form models were evaluated.
    header.update(HDUCLAS4=hduclas4, **INSTRUMENT_HEADER, ZEN_PNT=float(zenith_deg))
    return fits.BinTableHDU.from_columns(cols, header=fits.Header(header), name=name)


def irf_hdus(zenith_deg: float) -> list[fits.BinTableHDU]:
    """AEFF, EDISP, PSF and BKG HDUs of the analytic IRFs at one zenith angle."""
    energy = np.sqrt(_ENERGY_EDGES[:-1] * _ENERGY_EDGES[1:])
    theta = 0.5 * (_THETA_EDGES[:-1] + _THETA_EDGES[1:])
    e_grid, theta_grid = np.meshgrid(energy, theta)  # (n_theta, n_e)
    e_axis, theta_axis = ("ENERG", _ENERGY_EDGES, "TeV"), ("THETA", _THETA_EDGES, "deg")
    migra, rad_axis = ("MIGRA", _MIGRA_EDGES, None), ("RAD", _RAD_EDGES, "deg")
    det_axes = [("DETX", _DET_EDGES, "deg"), ("DETY", _DET_EDGES, "deg")]

    aeff = effective_area_m2(e_grid, theta_grid, zenith_deg)

    # Gaussian in migra integrated over each bin, renormalised after truncation.
    mean = 1.0 + edisp_bias(energy, zenith_deg)
    sigma = edisp_resolution(e_grid, theta_grid, zenith_deg)[:, None, :]
    prob = np.diff(ndtr((_MIGRA_EDGES[None, :, None] - mean) / sigma), axis=1)
    matrix = prob / prob.sum(axis=1, keepdims=True) / np.diff(_MIGRA_EDGES)[None, :, None]

    # Bin-averaged dP/dOmega, so sum(RPSF * dOmega) is the exact enclosed probability.
    psf_sigma = np.radians(psf_sigma_deg(e_grid, theta_grid, zenith_deg))
    rad2 = np.radians(_RAD_EDGES)[:, None, None] ** 2
    enclosed = -np.exp(-0.5 * rad2 / psf_sigma**2)
    rpsf = np.diff(enclosed, axis=0) / (np.pi * np.diff(rad2, axis=0))

    det = 0.5 * (_DET_EDGES[:-1] + _DET_EDGES[1:])
    det_offset = np.hypot(det[:, None], det[None, :])[:, :, None]  # (dety, detx, 1)
    bkg = background_rate(energy, det_offset, zenith_deg)

    return [
        _irf_hdu("AEFF", "EFF_AREA", "AEFF_2D", [e_axis, theta_axis], ("EFFAREA", aeff, "m2"), zenith_deg),
        _irf_hdu("EDISP", "EDISP", "EDISP_2D", [e_axis, migra, theta_axis], ("MATRIX", matrix, None), zenith_deg),
        _irf_hdu("PSF", "PSF", "PSF_TABLE", [e_axis, theta_axis, rad_axis], ("RPSF", rpsf, "sr-1"), zenith_deg),
        _irf_hdu("BKG", "BKG", "BKG_3D", [e_axis, *det_axes], ("BKG", bkg, "s-1 MeV-1 sr-1"), zenith_deg),
    ]
