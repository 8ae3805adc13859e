"""The observations of the synthetic data stores: a site, a time reference and a schedule.

:func:`observations` draws ``n_obs`` runs on plausible nights at the site over ten years
or more (targets tracked in wobble mode, or survey pointings), as whole obs-index columns;
:mod:`obscat.gadf.synthetic` writes them with their events and IRFs.
"""

from __future__ import annotations

import math
import warnings

import erfa
import numpy as np
from numpy.typing import ArrayLike

from .synthetic_irfs import energy_threshold_tev

__all__ = ["MJDREFF", "MJDREFI", "SITE_ALTITUDE_M", "SITE_LAT_DEG", "SITE_LON_DEG", "observations", "offset_by"]

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


def offset_by(
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


def observations(n_obs: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
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
    wobble_ra, wobble_dec = offset_by(ra_obj, dec_obj, 90.0 * rng.integers(0, 4, n_obs), _WOBBLE_DEG)

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
