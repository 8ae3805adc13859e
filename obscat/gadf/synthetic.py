"""Synthetic GADF DL3 data stores for tests and benchmarks.

:func:`make_data_store` writes a complete, deterministic data store in the
Gamma Astro Data Formats (GADF v0.3): an observation index, an HDU index,
event lists with good time intervals and full-enclosure IRFs (``aeff_2d``,
``edisp_2d``, ``psf_table``, ``bkg_3d``) computed from closed-form models.
Those models (in :mod:`obscat.gadf.synthetic_irfs`, importable from here) are
public so that tests can compare quantities derived from the files with exact values.

The observation index is built column-wise with numpy: a million
observations are written in seconds when ``n_files`` keeps the number of
data files small.
"""

from __future__ import annotations

import os
from gzip import GzipFile
from pathlib import Path

import numpy as np
from astropy.io import fits

from .synthetic_irfs import (
    GADF_HEADER,
    INSTRUMENT_HEADER,
    background_rate,
    edisp_bias,
    edisp_resolution,
    effective_area_m2,
    energy_threshold_tev,
    irf_hdus,
    psf_sigma_deg,
    table_hdu,
)
from .synthetic_observations import (
    MJDREFF,
    MJDREFI,
    SITE_ALTITUDE_M,
    SITE_LAT_DEG,
    SITE_LON_DEG,
    observations,
    offset_by,
)

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

CALDB_ZENITH_DEG = (0, 20, 40, 60)
"""Zenith angles (deg) of the shared IRF files of the ``caldb`` layout."""

_TIME_REF = {"MJDREFI": MJDREFI, "MJDREFF": MJDREFF, "TIMEUNIT": "s", "TIMESYS": "TT", "TIMEREF": "LOCAL"}
_SITE = {"GEOLON": SITE_LON_DEG, "GEOLAT": SITE_LAT_DEG, "ALTITUDE": SITE_ALTITUDE_M}

# (HDU_TYPE, HDU_CLASS, HDU_NAME) of the six HDUs of every observation.
_HDUS = (
    ("events", "events", "EVENTS"), ("gti", "gti", "GTI"), ("aeff", "aeff_2d", "AEFF"),
    ("edisp", "edisp_2d", "EDISP"), ("psf", "psf_table", "PSF"), ("bkg", "bkg_3d", "BKG"),
)  # fmt: skip
_GZIP_LEVEL = 1
_WRITE_BLOCK_ROWS = 65536

_OBS_UNITS = {
    **dict.fromkeys(["RA_PNT", "DEC_PNT", "GLON_PNT", "GLAT_PNT", "ZEN_PNT", "ALT_PNT", "AZ_PNT"], "deg"),
    **dict.fromkeys(["RA_OBJ", "DEC_OBJ", "OFFSET_OBJ"], "deg"),
    **dict.fromkeys(["ONTIME", "LIVETIME", "TSTART", "TSTOP"], "s"),
    **dict.fromkeys(["TRGRATE", "ZTRGRATE"], "Hz"),
    **dict.fromkeys(["SAFE_ENERGY_LO", "SAFE_ENERGY_HI"], "TeV"),
    "AIRTEMP": "deg_C",
    "PRESSURE": "hPa",
}


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


def _events_hdus(obs: dict[str, np.ndarray], j: int, seed: int) -> list[fits.BinTableHDU]:
    """EVENTS and GTI HDUs of observation ``j``: 30 % source events, 70 % background."""
    rng = np.random.default_rng((seed, j, 1))
    n = int(obs["EVENT_COUNT"][j])
    t0, t1 = float(obs["TSTART"][j]), float(obs["TSTOP"][j])
    from_source = rng.random(n) < 0.3
    sep = np.where(from_source, 0.1 * np.sqrt(-2.0 * np.log1p(-rng.random(n))), 2.5 * np.sqrt(rng.random(n)))
    ra, dec = offset_by(
        np.where(from_source, obs["RA_OBJ"][j], obs["RA_PNT"][j]),
        np.where(from_source, obs["DEC_OBJ"][j], obs["DEC_PNT"][j]),
        rng.uniform(0.0, 360.0, n),
        sep,
    )
    energy = np.minimum(float(obs["SAFE_ENERGY_LO"][j]) * (1.0 - rng.random(n)) ** (-1.0 / 1.6), 100.0)
    events: dict[str, np.ndarray] = {
        "EVENT_ID": np.arange(1, n + 1, dtype=np.int64),
        "TIME": np.sort(rng.uniform(t0, t1, n)),
        "RA": ra.astype(np.float32),
        "DEC": dec.astype(np.float32),
        "ENERGY": energy.astype(np.float32),
    }
    header = {**GADF_HEADER, "HDUCLAS1": "EVENTS", "OBS_ID": int(obs["OBS_ID"][j]), "TSTART": t0, "TSTOP": t1}
    for key in ("ONTIME", "LIVETIME", "DEADC", "RA_PNT", "DEC_PNT", "ALT_PNT", "AZ_PNT", "RA_OBJ", "DEC_OBJ"):
        header[key] = float(obs[key][j])
    for key in ("OBS_MODE", "OBJECT", "TELLIST"):
        header[key] = obs[key][j].decode()
    header.update(N_TELS=int(obs["N_TELS"][j]), EQUINOX=2000.0, RADECSYS="ICRS", **INSTRUMENT_HEADER, **_SITE)
    header.update(_TIME_REF)
    gti_header = {**GADF_HEADER, "HDUCLAS1": "GTI", "OBS_ID": int(obs["OBS_ID"][j]), **_TIME_REF}
    return [
        table_hdu(events, {"TIME": "s", "RA": "deg", "DEC": "deg", "ENERGY": "TeV"}, "EVENTS", header),
        table_hdu({"START": np.array([t0]), "STOP": np.array([t1])}, dict(START="s", STOP="s"), "GTI", gti_header),
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
    header = {**GADF_HEADER, "HDUCLAS1": "INDEX", "HDUCLAS2": "HDU"}
    return table_hdu(columns, {"SIZE": "byte"}, "HDU_INDEX", header)


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
    obs = observations(n_obs, np.random.default_rng(seed))

    names, dirs, sizes = [], [], []
    for j in range(n_files):
        hdus = _events_hdus(obs, j, seed)
        if not caldb:
            hdus += irf_hdus(float(obs["ZEN_PNT"][j]))
        names.append(f"{'run' if caldb else 'obs'}_{obs['OBS_ID'][j]:06d}{ext}")
        dirs.append("../data" if caldb else "data")
        sizes.append(_write(root / "data" / names[-1], hdus, gzip))
    file_idx = np.repeat((np.arange(n_obs) % n_files)[:, None], len(_HDUS), axis=1)
    if caldb:
        for zenith in CALDB_ZENITH_DEG:
            names.append(f"irf_zen{zenith:02d}{ext}")
            dirs.append("../caldb/data/synth")
            sizes.append(_write(root / "caldb" / "data" / "synth" / names[-1], irf_hdus(zenith), gzip))
        nearest = np.abs(obs["ZEN_PNT"][:, None] - np.array(CALDB_ZENITH_DEG)).argmin(axis=1)
        file_idx[:, 2:] = n_files + nearest[:, None]

    obs_header = {**GADF_HEADER, "HDUCLAS1": "INDEX", "HDUCLAS2": "OBS", **_TIME_REF, "TELESCOP": "SYNTH", **_SITE}
    _write(index_dir / f"obs-index{ext}", [table_hdu(obs, _OBS_UNITS, "OBS_INDEX", obs_header)], gzip)
    obs_id = obs["OBS_ID"]
    del obs  # keep peak memory down for the 6 * n_obs rows of the HDU index
    hdu_index = _hdu_index_hdu(obs_id, file_idx, names, dirs, np.array(sizes))
    _write(index_dir / f"hdu-index{ext}", [hdu_index], gzip)
    return index_dir
