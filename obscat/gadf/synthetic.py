"""Synthetic GADF DL3 data stores for tests and benchmarks.

:func:`make_data_store` writes a complete, deterministic data store in the
Gamma Astro Data Formats (GADF v0.3): an observation index, an HDU index,
event lists with good time intervals and full-enclosure IRFs (``aeff_2d``,
``edisp_2d``, ``psf_table``, ``bkg_3d``) computed from closed-form models.
Those models are public (:func:`effective_area_m2`, :func:`edisp_bias`,
:func:`edisp_resolution`, :func:`psf_sigma_deg`, :func:`background_rate`,
:func:`energy_threshold_tev`) so that tests can compare quantities derived
from the files with exact values.

The observation index is built column-wise with numpy: a million
observations are written in seconds when ``n_files`` keeps the number of
data files small.
"""

from __future__ import annotations

import math
import os
import warnings
from gzip import GzipFile
from pathlib import Path

import erfa
import numpy as np
from astropy.io import fits
from numpy.typing import ArrayLike
from scipy.special import ndtr

__all__ = [
    "CALDB_ZENITH_DEG",
    "MJDREFF",
    "MJDREFI",
    "SITE_ALTITUDE_M",
    "SITE_LAT_DEG",
    "SITE_LON_DEG",
    "background_rate",
    "edisp_bias",
    "edisp_resolution",
    "effective_area_m2",
    "energy_threshold_tev",
    "make_data_store",
    "psf_sigma_deg",
]

SITE_LON_DEG = 16.5002222
"""Geodetic longitude of the synthetic site (deg, east positive)."""
SITE_LAT_DEG = -23.2717778
"""Geodetic latitude of the synthetic site (deg)."""
SITE_ALTITUDE_M = 1835.0
"""Altitude of the synthetic site above sea level (m)."""
MJDREFI = 51910
"""Integer part of the MJD (TT) time reference."""
MJDREFF = 7.428703703703703e-4
"""Fractional part of the MJD (TT) time reference (2001-01-01 00:00:00 UTC)."""
CALDB_ZENITH_DEG = (0, 20, 40, 60)
"""Zenith angles (deg) of the shared IRF files of the ``caldb`` layout."""

_HDUDOC = "https://github.com/open-gamma-ray-astro/gamma-astro-data-formats"
_GADF = {"HDUCLASS": "GADF", "HDUDOC": _HDUDOC, "HDUVERS": "0.3"}
_TIME_REF = {"MJDREFI": MJDREFI, "MJDREFF": MJDREFF, "TIMEUNIT": "s", "TIMESYS": "TT", "TIMEREF": "LOCAL"}
_SITE = {"GEOLON": SITE_LON_DEG, "GEOLAT": SITE_LAT_DEG, "ALTITUDE": SITE_ALTITUDE_M}
_INSTRUMENT = {"TELESCOP": "SYNTH", "INSTRUME": "SYNTH", "CREATOR": "obscat.gadf.synthetic"}

# (HDU_TYPE, HDU_CLASS, HDU_NAME) of the six HDUs of every observation.
_HDUS = (
    ("events", "events", "EVENTS"), ("gti", "gti", "GTI"), ("aeff", "aeff_2d", "AEFF"),
    ("edisp", "edisp_2d", "EDISP"), ("psf", "psf_table", "PSF"), ("bkg", "bkg_3d", "BKG"),
)  # fmt: skip
_GZIP_LEVEL = 1
_WRITE_BLOCK_ROWS = 65536

# IRF binning (deg, TeV; migra is dimensionless).
_ENERGY_EDGES = np.logspace(-2.0, 2.0, 33)
_THETA_EDGES = np.linspace(0.0, 3.0, 7)
_MIGRA_EDGES = np.geomspace(0.2, 5.0, 101)
_RAD_EDGES = np.linspace(0.0, 1.0, 201)
_DET_EDGES = np.linspace(-3.0, 3.0, 25)

# Observing schedule: 28-min runs in 30-min slots, 7 h around local midnight.
_FIRST_NIGHT_MJD = 53005  # 2004-01-01
_SLOTS_PER_NIGHT = 14
_SLOT_S = 1800.0
_MIN_NIGHTS = 3653  # ten years
_MAX_ZENITH_DEG = 60.0
_TARGET_MAX_ZENITH_DEG = 55.0
_TARGET_FRACTION = 0.5
_WOBBLE_DEG = 0.5
# (OBJECT, RA_OBJ, DEC_OBJ, TARGET_TAG); "survey" pointings are scattered.
_TARGETS = (
    ("Crab", 83.6331, 22.0145, "pwn"),
    ("PKS 2155-304", 329.7169, -30.2256, "agn"),
    ("RX J1713.7-3946", 258.3875, -39.7617, "snr"),
    ("Galactic Centre", 266.4168, -29.0078, "gc"),
    ("SN 1006", 225.5917, -41.9417, "snr"),
)
_TELLISTS = ("1,2,3,4", "1,2,3", "1,2,4", "1,3,4", "2,3,4")

_OBS_UNITS = {
    **dict.fromkeys(["RA_PNT", "DEC_PNT", "GLON_PNT", "GLAT_PNT", "ZEN_PNT", "ALT_PNT", "AZ_PNT"], "deg"),
    **dict.fromkeys(["RA_OBJ", "DEC_OBJ", "OFFSET_OBJ"], "deg"),
    **dict.fromkeys(["ONTIME", "LIVETIME", "TSTART", "TSTOP"], "s"),
    **dict.fromkeys(["TRGRATE", "ZTRGRATE"], "Hz"),
    **dict.fromkeys(["SAFE_ENERGY_LO", "SAFE_ENERGY_HI"], "TeV"),
    "AIRTEMP": "deg_C",
    "PRESSURE": "hPa",
}
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


def _table_hdu(columns: dict[str, np.ndarray], units: dict[str, str], name: str, header: dict) -> fits.BinTableHDU:
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
    header = {**_GADF, "HDUCLAS1": "RESPONSE", "HDUCLAS2": hduclas2, "HDUCLAS3": "FULL-ENCLOSURE"}
    # ZEN_PNT: zenith angle (deg) at which the closed-form models were evaluated.
    header.update(HDUCLAS4=hduclas4, **_INSTRUMENT, ZEN_PNT=float(zenith_deg))
    return fits.BinTableHDU.from_columns(cols, header=fits.Header(header), name=name)


def _irf_hdus(zenith_deg: float) -> list[fits.BinTableHDU]:
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


def _write(path: Path, hdus: list[fits.BinTableHDU], gzip: bool) -> list[int]:
    """Write a FITS file of an empty primary HDU followed by ``hdus``.

    The bytes are those astropy's ``HDUList.writeto`` produces, but the table
    data are byte-swapped with one numpy cast per block of rows (astropy swaps
    array cells element by element, slow for large IRF cells). The gzip
    header has no name and mtime 0, so the files are reproducible.

    Returns the uncompressed size in bytes of each kind of `_HDUS` (0 if absent).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    sizes = dict.fromkeys((name for _, _, name in _HDUS), 0)
    with open(path, "wb") as raw:
        out = GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=_GZIP_LEVEL, mtime=0) if gzip else raw
        out.write(fits.PrimaryHDU().header.tostring().encode("ascii"))
        for hdu in hdus:
            header = hdu.header.tostring().encode("ascii")
            data = hdu.data.view(np.ndarray)
            big_endian = data.dtype.newbyteorder(">")
            out.write(header)
            for start in range(0, len(data), _WRITE_BLOCK_ROWS):
                out.write(data[start : start + _WRITE_BLOCK_ROWS].astype(big_endian).tobytes())
            out.write(bytes(-data.nbytes % 2880))
            sizes[hdu.name] = len(header) + data.nbytes + (-data.nbytes % 2880)
        out.close()
    return [sizes[name] for _, _, name in _HDUS]


# -- Observations ------------------------------------------------------------------------------


def _digits(parts: list) -> np.ndarray:
    """Fixed-width ASCII strings from ``(int_array, width)`` fields and literal separators."""
    n = next(len(p[0]) for p in parts if not isinstance(p, str))
    chunks = []
    for part in parts:
        if isinstance(part, str):
            chunks.append(np.broadcast_to(np.frombuffer(part.encode(), np.uint8), (n, len(part))))
        else:
            values, width = part
            powers = 10 ** np.arange(width - 1, -1, -1)
            chunks.append((np.asarray(values)[:, None] // powers % 10 + ord("0")).astype(np.uint8))
    buf = np.ascontiguousarray(np.concatenate(chunks, axis=1))
    return buf.view(f"S{buf.shape[1]}").ravel()


def _utc(t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-part UTC Julian date of TT seconds since MJDREF."""
    with warnings.catch_warnings():  # "dubious year" beyond the leap-second table
        warnings.simplefilter("ignore", erfa.ErfaWarning)
        return erfa.taiutc(*erfa.tttai(2400000.5 + MJDREFI, MJDREFF + t_s / 86400.0))


def _date_time(utc: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``YYYY-MM-DD`` and ``HH:MM:SS`` strings (rounded to the second) of two-part UTC dates."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", erfa.ErfaWarning)
        year, month, day, hmsf = erfa.d2dtf("UTC", 0, *utc)
    date = _digits([(year, 4), "-", (month, 2), "-", (day, 2)])
    return date, _digits([(hmsf["h"], 2), ":", (hmsf["m"], 2), ":", (hmsf["s"], 2)])


def _offset_by(
    ra_deg: ArrayLike, dec_deg: ArrayLike, pa_deg: ArrayLike, sep_deg: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Position at separation ``sep_deg`` and position angle ``pa_deg`` (east of north)."""
    ra, dec, pa, sep = (np.radians(x) for x in (ra_deg, dec_deg, pa_deg, sep_deg))
    sin_dec = np.sin(dec) * np.cos(sep) + np.cos(dec) * np.sin(sep) * np.cos(pa)
    dra = np.arctan2(np.sin(pa) * np.sin(sep) * np.cos(dec), np.cos(sep) - np.sin(dec) * sin_dec)
    return np.degrees(ra + dra) % 360.0, np.degrees(np.arcsin(np.clip(sin_dec, -1.0, 1.0)))


def _altaz(ra_deg: ArrayLike, dec_deg: ArrayLike, lst: np.ndarray, prec: np.ndarray) -> tuple[np.ndarray, ...]:
    """Altitude and azimuth (deg) of ICRS positions, no refraction.

    ``prec`` holds the bias-precession matrices (IAU 2006) to the mean equator
    and equinox of date and ``lst`` the local mean sidereal time (rad).
    Nutation, aberration and polar motion are neglected (< 0.02 deg).
    """
    vec = erfa.s2c(np.radians(ra_deg), np.radians(dec_deg))
    ra_date, dec_date = erfa.c2s((prec @ vec[..., None])[..., 0])
    az, alt = erfa.hd2ae(lst - ra_date, dec_date, math.radians(SITE_LAT_DEG))
    return np.degrees(alt), np.degrees(az)


def _observations(n_obs: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Columns of the observation index, computed column-wise.

    Times are TT seconds since MJDREF; ZEN/ALT/AZ are at mid-observation.
    """
    # Schedule: distinct 30-min slots of at least ten years of nights.
    n_nights = max(_MIN_NIGHTS, math.ceil(n_obs / (0.9 * _SLOTS_PER_NIGHT)))
    slots = np.sort(rng.choice(n_nights * _SLOTS_PER_NIGHT, n_obs, replace=False))
    night, slot = np.divmod(slots, _SLOTS_PER_NIGHT)
    midnight = (_FIRST_NIGHT_MJD + 1 + night - SITE_LON_DEG / 360.0 - MJDREFI - MJDREFF) * 86400.0
    tstart = midnight + (slot - _SLOTS_PER_NIGHT / 2) * _SLOT_S + rng.uniform(0.0, 60.0, n_obs)
    tstop = tstart + rng.uniform(1560.0, 1680.0, n_obs)
    tmid = 0.5 * (tstart + tstop)

    utc_mid = _utc(tmid)
    lst = erfa.gmst06(*utc_mid, 2400000.5 + MJDREFI, MJDREFF + tmid / 86400.0) + math.radians(SITE_LON_DEG)
    days, inverse = np.unique(np.floor(tmid / 86400.0), return_inverse=True)
    prec = erfa.pmat06(2400000.5 + MJDREFI, MJDREFF + days)[inverse]

    # Pointed observations: a target above 90 - 55 deg altitude, in wobble mode.
    target_alt = np.stack([_altaz(ra, dec, lst, prec)[0] for _, ra, dec, _ in _TARGETS])
    keys = np.where(target_alt > 90.0 - _TARGET_MAX_ZENITH_DEG, rng.random(target_alt.shape), -1.0)
    target = keys.argmax(axis=0)
    pointed = (keys.max(axis=0) >= 0.0) & (rng.random(n_obs) < _TARGET_FRACTION)
    ra_obj = np.array([t[1] for t in _TARGETS])[target]
    dec_obj = np.array([t[2] for t in _TARGETS])[target]
    wobble_ra, wobble_dec = _offset_by(ra_obj, dec_obj, 90.0 * rng.integers(0, 4, n_obs), _WOBBLE_DEG)

    # Survey observations: uniform over the sky above 90 - 60 deg altitude.
    cos_zen = rng.uniform(math.cos(math.radians(_MAX_ZENITH_DEG)), 1.0, n_obs)
    ha, dec_date = erfa.ae2hd(rng.uniform(0.0, 2.0 * np.pi, n_obs), np.arcsin(cos_zen), math.radians(SITE_LAT_DEG))
    vec = erfa.s2c(lst - ha, dec_date)
    survey_ra, survey_dec = erfa.c2s((np.swapaxes(prec, 1, 2) @ vec[..., None])[..., 0])

    ra = np.where(pointed, wobble_ra, np.degrees(erfa.anp(survey_ra)))
    dec = np.where(pointed, wobble_dec, np.degrees(survey_dec))
    ra_obj = np.where(pointed, ra_obj, ra)
    dec_obj = np.where(pointed, dec_obj, dec)
    alt, az = _altaz(ra, dec, lst, prec)
    del prec, vec
    zen = 90.0 - alt
    glon, glat = erfa.icrs2g(np.radians(ra), np.radians(dec))
    date_obs, time_obs = _date_time(_utc(tstart))
    date_end, time_end = _date_time(_utc(tstop))

    # Conditions: quality, optical efficiency ageing, seasons, galactic NSB.
    quality = (rng.random(n_obs) < 0.05).astype(np.int16)
    years = tstart / (365.25 * 86400.0)
    muoneff = 0.09 * (1.0 - 0.04 * (years % 5.0)) * rng.normal(1.0, 0.02, n_obs)
    zen_factor = np.cos(np.radians(zen)) ** 1.5
    trgrate = 280.0 * zen_factor * muoneff / 0.09 * np.where(quality, 0.7, 1.0) * rng.normal(1.0, 0.05, n_obs)
    deadc = np.clip(rng.normal(0.92, 0.015, n_obs), 0.85, 0.98)
    tels = np.where(rng.random(n_obs) < 0.8, 0, rng.integers(1, len(_TELLISTS), n_obs))
    tags = np.array([t[3] for t in _TARGETS] + ["survey"], dtype="S")
    names = np.array([t[0] for t in _TARGETS] + ["survey"], dtype="S")
    kind = np.where(pointed, target, len(_TARGETS))
    galactic_nsb = 1.0 + 1.5 * np.exp(-np.abs(np.degrees(glat)) / 5.0)
    f4 = np.float32
    return {
        "OBS_ID": 10_000 * int(rng.integers(1, 10)) + np.arange(1, n_obs + 1, dtype=np.int64),
        "OBS_MODE": np.full(n_obs, b"POINTING"),
        "RA_PNT": ra,
        "DEC_PNT": dec,
        "GLON_PNT": np.degrees(glon).astype(f4),
        "GLAT_PNT": np.degrees(glat).astype(f4),
        "ZEN_PNT": zen.astype(f4),
        "ALT_PNT": alt.astype(f4),
        "AZ_PNT": az.astype(f4),
        "ONTIME": tstop - tstart,
        "LIVETIME": (tstop - tstart) * deadc,
        "DEADC": deadc.astype(f4),
        "TSTART": tstart,
        "TSTOP": tstop,
        "DATE_OBS": date_obs,
        "TIME_OBS": time_obs,
        "DATE_END": date_end,
        "TIME_END": time_end,
        "N_TELS": np.where(tels == 0, 4, 3).astype(np.int16),
        "TELLIST": np.array(_TELLISTS, dtype="S")[tels],
        "QUALITY": quality,
        "OBJECT": names[kind],
        "RA_OBJ": ra_obj,
        "DEC_OBJ": dec_obj,
        "EVENT_COUNT": rng.integers(50, 201, n_obs, dtype=np.int64),
        "MUONEFF": muoneff.astype(f4),
        "BKG_SCALE": (rng.normal(1.0, 0.1, n_obs) * np.where(quality, 1.2, 1.0)).astype(f4),
        "TRGRATE": trgrate.astype(f4),
        "ZTRGRATE": (trgrate / zen_factor).astype(f4),
        "NSBLEVEL": (rng.lognormal(np.log(100.0), 0.2, n_obs) * galactic_nsb).astype(f4),
        "BROKPIX": rng.uniform(0.005, 0.08, n_obs).astype(f4),
        "AIRTEMP": (15.0 + 7.0 * np.cos(2.0 * np.pi * (years % 1.0)) + rng.normal(0.0, 2.0, n_obs)).astype(f4),
        "PRESSURE": rng.normal(812.0, 2.0, n_obs).astype(f4),
        "RELHUM": np.clip(rng.normal(0.35, 0.15, n_obs), 0.03, 0.98).astype(f4),
        "SAFE_ENERGY_LO": energy_threshold_tev(zen).astype(f4),
        "SAFE_ENERGY_HI": np.full(n_obs, 100.0, dtype=f4),
        "TARGET_TAG": tags[kind],
        "OFFSET_OBJ": np.degrees(erfa.seps(*np.radians([ra, dec, ra_obj, dec_obj]))).astype(f4),
    }


def _events_hdus(obs: dict[str, np.ndarray], j: int, seed: int) -> list[fits.BinTableHDU]:
    """EVENTS and GTI HDUs of observation ``j``: 30 % source events, 70 % background."""
    rng = np.random.default_rng((seed, j, 1))
    n = int(obs["EVENT_COUNT"][j])
    t0, t1 = float(obs["TSTART"][j]), float(obs["TSTOP"][j])
    from_source = rng.random(n) < 0.3
    sep = np.where(from_source, 0.1 * np.sqrt(-2.0 * np.log1p(-rng.random(n))), 2.5 * np.sqrt(rng.random(n)))
    ra, dec = _offset_by(
        np.where(from_source, obs["RA_OBJ"][j], obs["RA_PNT"][j]),
        np.where(from_source, obs["DEC_OBJ"][j], obs["DEC_PNT"][j]),
        rng.uniform(0.0, 360.0, n),
        sep,
    )
    energy = np.minimum(float(obs["SAFE_ENERGY_LO"][j]) * (1.0 - rng.random(n)) ** (-1.0 / 1.6), 100.0)
    events = {
        "EVENT_ID": np.arange(1, n + 1, dtype=np.int64),
        "TIME": np.sort(rng.uniform(t0, t1, n)),
        "RA": ra.astype(np.float32),
        "DEC": dec.astype(np.float32),
        "ENERGY": energy.astype(np.float32),
    }
    header = {**_GADF, "HDUCLAS1": "EVENTS", "OBS_ID": int(obs["OBS_ID"][j]), "TSTART": t0, "TSTOP": t1}
    for key in ("ONTIME", "LIVETIME", "DEADC", "RA_PNT", "DEC_PNT", "ALT_PNT", "AZ_PNT", "RA_OBJ", "DEC_OBJ"):
        header[key] = float(obs[key][j])
    for key in ("OBS_MODE", "OBJECT", "TELLIST"):
        header[key] = obs[key][j].decode()
    header.update(N_TELS=int(obs["N_TELS"][j]), EQUINOX=2000.0, RADECSYS="ICRS", **_INSTRUMENT, **_SITE)
    header.update(_TIME_REF)
    gti_header = {**_GADF, "HDUCLAS1": "GTI", "OBS_ID": int(obs["OBS_ID"][j]), **_TIME_REF}
    return [
        _table_hdu(events, {"TIME": "s", "RA": "deg", "DEC": "deg", "ENERGY": "TeV"}, "EVENTS", header),
        _table_hdu({"START": np.array([t0]), "STOP": np.array([t1])}, dict(START="s", STOP="s"), "GTI", gti_header),
    ]


# -- Data store --------------------------------------------------------------------------------


def _hdu_index_hdu(
    obs_id: np.ndarray, file_idx: np.ndarray, names: list[str], dirs: list[str], sizes: np.ndarray
) -> fits.BinTableHDU:
    """HDU index: six rows per observation; ``file_idx[i, k]`` indexes ``names`` for HDU kind ``k``."""
    n = obs_id.size
    flat_idx = file_idx.ravel()
    columns = {
        "OBS_ID": np.repeat(obs_id, len(_HDUS)),
        "HDU_TYPE": np.tile(np.array([h[0] for h in _HDUS], dtype="S"), n),
        "HDU_CLASS": np.tile(np.array([h[1] for h in _HDUS], dtype="S"), n),
        "FILE_DIR": np.array(dirs, dtype="S")[flat_idx],
        "FILE_NAME": np.array(names, dtype="S")[flat_idx],
        "HDU_NAME": np.tile(np.array([h[2] for h in _HDUS], dtype="S"), n),
        "SIZE": sizes[file_idx, np.arange(len(_HDUS))].ravel().astype(np.int64),
    }
    header = {**_GADF, "HDUCLAS1": "INDEX", "HDUCLAS2": "HDU"}
    return _table_hdu(columns, {"SIZE": "byte"}, "HDU_INDEX", header)


def make_data_store(
    path: str | os.PathLike,
    n_obs: int = 20,
    *,
    seed: int = 0,
    n_files: int | None = None,
    layout: str = "flat",
    gzip: bool = True,
) -> Path:
    """Write a deterministic synthetic GADF DL3 data store.

    Observations of about 28 minutes are scheduled in distinct slots of
    plausible nights at the site (``SITE_*``) over ten years, or longer when
    ten years of nights cannot hold ``n_obs`` runs without overlap (about
    220 years for a million runs). About half of them, when a target is
    visible, are wobble pointings 0.5 deg from one of a few named sources;
    the rest (``OBJECT = "survey"``) are spread uniformly over the sky above
    30 deg altitude. Conditions (trigger rates, muon efficiency, weather,
    quality) vary with zenith angle, time and sky position.

    Parameters
    ----------
    path : str or os.PathLike
        Directory of the data store, created if missing. Existing files of the
        same names are overwritten; others are left alone.
    n_obs : int, optional
        Number of observations (rows of the observation index).
    seed : int, optional
        Random seed. The same seed gives byte-identical files.
    n_files : int, optional
        Number of per-observation data files to write (``1 <= n_files <=
        n_obs``); the HDU index of observation ``i`` points to the file of
        observation ``i % n_files``, whose events, headers and (flat layout)
        IRFs belong to that observation. Default: one file per observation.
    layout : {"flat", "caldb"}, optional
        ``"flat"``: index files in ``path``; ``data/obs_{OBS_ID:06d}.fits.gz``
        holds EVENTS, GTI, AEFF, EDISP, PSF and BKG computed at the zenith
        angle of its observation (``FILE_DIR = "data"``).
        ``"caldb"``: index files in ``path/index``; EVENTS and GTI in
        ``data/run_{OBS_ID:06d}.fits.gz`` (``FILE_DIR = "../data"``); the IRFs
        in ``caldb/data/synth/irf_zen{ZZ}.fits.gz``, one file per zenith angle
        of `CALDB_ZENITH_DEG`, shared by all observations nearest to it
        (``FILE_DIR = "../caldb/data/synth"``).
    gzip : bool, optional
        Write gzip-compressed ``.fits.gz`` files (default) or plain ``.fits``.

    Returns
    -------
    pathlib.Path
        The directory holding ``obs-index.fits[.gz]`` and ``hdu-index.fits[.gz]``.

    Raises
    ------
    ValueError
        If ``n_obs < 1``, ``n_files`` is outside ``[1, n_obs]`` or ``layout``
        is unknown.
    """
    if n_obs < 1:
        raise ValueError(f"n_obs must be at least 1, got {n_obs}")
    n_files = n_obs if n_files is None else n_files
    if not 1 <= n_files <= n_obs:
        raise ValueError(f"n_files must be between 1 and n_obs={n_obs}, got {n_files}")
    if layout not in ("flat", "caldb"):
        raise ValueError(f"layout must be 'flat' or 'caldb', got {layout!r}")

    root = Path(path)
    caldb = layout == "caldb"
    index_dir = root / "index" if caldb else root
    ext = ".fits.gz" if gzip else ".fits"
    obs = _observations(n_obs, np.random.default_rng(seed))

    names, dirs, sizes = [], [], []
    for j in range(n_files):
        hdus = _events_hdus(obs, j, seed)
        if not caldb:
            hdus += _irf_hdus(float(obs["ZEN_PNT"][j]))
        names.append(f"{'run' if caldb else 'obs'}_{obs['OBS_ID'][j]:06d}{ext}")
        dirs.append("../data" if caldb else "data")
        sizes.append(_write(root / "data" / names[-1], hdus, gzip))
    file_idx = np.repeat((np.arange(n_obs) % n_files)[:, None], len(_HDUS), axis=1)
    if caldb:
        for zenith in CALDB_ZENITH_DEG:
            names.append(f"irf_zen{zenith:02d}{ext}")
            dirs.append("../caldb/data/synth")
            sizes.append(_write(root / "caldb" / "data" / "synth" / names[-1], _irf_hdus(zenith), gzip))
        nearest = np.abs(obs["ZEN_PNT"][:, None] - np.array(CALDB_ZENITH_DEG)).argmin(axis=1)
        file_idx[:, 2:] = n_files + nearest[:, None]

    obs_header = {**_GADF, "HDUCLAS1": "INDEX", "HDUCLAS2": "OBS", **_TIME_REF, "TELESCOP": "SYNTH", **_SITE}
    _write(index_dir / f"obs-index{ext}", [_table_hdu(obs, _OBS_UNITS, "OBS_INDEX", obs_header)], gzip)
    obs_id = obs["OBS_ID"]
    del obs  # keep peak memory down for the 6 * n_obs rows of the HDU index
    hdu_index = _hdu_index_hdu(obs_id, file_idx, names, dirs, np.array(sizes))
    _write(index_dir / f"hdu-index{ext}", [hdu_index], gzip)
    return index_dir
