"""Tests of the synthetic GADF data-store generator (obscat.gadf.synthetic)."""

from __future__ import annotations

import math
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import AltAz, EarthLocation, SkyCoord
from astropy.io import fits
from astropy.time import Time
from astropy.utils import iers

from obscat.gadf.synthetic import (
    CALDB_ZENITH_DEG,
    MJDREFF,
    MJDREFI,
    SITE_ALTITUDE_M,
    SITE_LAT_DEG,
    SITE_LON_DEG,
    background_rate,
    edisp_bias,
    edisp_resolution,
    effective_area_m2,
    energy_threshold_tev,
    make_data_store,
    psf_sigma_deg,
)

OBS_COLUMNS = {
    "OBS_ID": None, "OBS_MODE": None, "RA_PNT": "deg", "DEC_PNT": "deg", "GLON_PNT": "deg", "GLAT_PNT": "deg",
    "ZEN_PNT": "deg", "ALT_PNT": "deg", "AZ_PNT": "deg", "ONTIME": "s", "LIVETIME": "s", "DEADC": None,
    "TSTART": "s", "TSTOP": "s", "DATE_OBS": None, "TIME_OBS": None, "DATE_END": None, "TIME_END": None,
    "N_TELS": None, "TELLIST": None, "QUALITY": None, "OBJECT": None, "RA_OBJ": "deg", "DEC_OBJ": "deg",
    "EVENT_COUNT": None, "MUONEFF": None, "BKG_SCALE": None, "TRGRATE": "Hz", "ZTRGRATE": "Hz",
    "NSBLEVEL": None, "BROKPIX": None, "AIRTEMP": "deg_C", "PRESSURE": "hPa", "RELHUM": None,
    "SAFE_ENERGY_LO": "TeV", "SAFE_ENERGY_HI": "TeV", "TARGET_TAG": None, "OFFSET_OBJ": "deg",
}  # fmt: skip
HDU_CLASSES = {  # HDU_CLASS -> (HDUCLAS1, HDUCLAS4) expected in the referenced HDU
    "events": ("EVENTS", None),
    "gti": ("GTI", None),
    "aeff_2d": ("RESPONSE", "AEFF_2D"),
    "edisp_2d": ("RESPONSE", "EDISP_2D"),
    "psf_table": ("RESPONSE", "PSF_TABLE"),
    "bkg_3d": ("RESPONSE", "BKG_3D"),
}
STORES = {  # name -> keyword arguments of make_data_store
    "flat": dict(n_obs=20),
    "flat_plain": dict(n_obs=8, gzip=False, seed=3),
    "caldb": dict(n_obs=16, layout="caldb", seed=1),
    "caldb_plain": dict(n_obs=6, layout="caldb", gzip=False, seed=2),
    "shared_files": dict(n_obs=60, n_files=4, seed=4),
}


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    """Index directory of each store of STORES, written once for the module."""
    return {name: make_data_store(tmp_path_factory.mktemp(name), **kw) for name, kw in STORES.items()}


def read_index(index_dir: Path, kind: str) -> tuple[fits.Header, fits.FITS_rec]:
    (path,) = index_dir.glob(f"{kind}-index.fits*")
    with fits.open(path) as hdul:
        return hdul[1].header, hdul[1].data.copy()


def psf_table(path: Path) -> tuple[dict[str, np.ndarray], float]:
    with fits.open(path) as hdul:
        data = hdul["PSF"].data
        return {name: np.asarray(data[name][0], dtype=float) for name in data.names}, hdul["PSF"].header["ZEN_PNT"]


# -- index files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(STORES))
def test_index_files_have_n_and_6n_rows_and_gadf_headers(stores, name):
    n_obs = STORES[name]["n_obs"]
    obs_header, obs = read_index(stores[name], "obs")
    hdu_header, hdu = read_index(stores[name], "hdu")
    assert len(obs) == n_obs and len(hdu) == 6 * n_obs
    assert obs_header["EXTNAME"] == "OBS_INDEX" and hdu_header["EXTNAME"] == "HDU_INDEX"
    for header, clas2 in ((obs_header, "OBS"), (hdu_header, "HDU")):
        assert (header["HDUCLASS"], header["HDUVERS"], header["HDUCLAS1"], header["HDUCLAS2"]) == (
            "GADF", "0.3", "INDEX", clas2,
        )  # fmt: skip
        assert "DATE" not in header and "CHECKSUM" not in header
    assert (obs_header["MJDREFI"], obs_header["MJDREFF"]) == (51910, pytest.approx(7.4287037037037e-4, rel=1e-12))
    assert (obs_header["TIMEUNIT"], obs_header["TIMESYS"], obs_header["TIMEREF"]) == ("s", "TT", "LOCAL")
    assert obs_header["TELESCOP"] == "SYNTH"
    site = (obs_header["GEOLON"], obs_header["GEOLAT"], obs_header["ALTITUDE"])
    assert site == (16.5002222, -23.2717778, 1835.0) and all(isinstance(v, float) for v in site)
    assert np.array_equal(np.unique(hdu["OBS_ID"], return_counts=True)[1], np.full(n_obs, 6))


def test_obs_index_columns_units_and_types(stores):
    header, obs = read_index(stores["flat"], "obs")
    assert list(obs.names) == list(OBS_COLUMNS)
    for i, name in enumerate(obs.names, start=1):
        assert header.get(f"TUNIT{i}") == OBS_COLUMNS[name], name
    dtypes = {name: obs[name].dtype.newbyteorder("=") for name in ("OBS_ID", "TSTART", "GLON_PNT", "ZEN_PNT")}
    assert dtypes == {"OBS_ID": np.int64, "TSTART": np.float64, "GLON_PNT": np.float32, "ZEN_PNT": np.float32}
    assert set(obs["OBS_MODE"]) == {"POINTING"} and set(obs["QUALITY"]) <= {0, 1}
    assert set(obs["N_TELS"]) <= {3, 4}
    assert all(n == len(tels.split(",")) for n, tels in zip(obs["N_TELS"], obs["TELLIST"]))
    assert np.all(obs["SAFE_ENERGY_LO"] < obs["SAFE_ENERGY_HI"])
    np.testing.assert_allclose(obs["SAFE_ENERGY_LO"], energy_threshold_tev(obs["ZEN_PNT"]), rtol=1e-6)


@pytest.mark.parametrize("name", ["flat", "shared_files"])
def test_obs_ids_unique_and_times_consistent(stores, name):
    _, obs = read_index(stores[name], "obs")
    assert len(np.unique(obs["OBS_ID"])) == len(obs)
    start, stop = obs["TSTART"], obs["TSTOP"]
    assert np.all(stop > start) and np.all(np.diff(start) > 0)
    assert np.all(start[1:] >= stop[:-1]), "observations overlap"
    assert np.all((obs["ONTIME"] > 25 * 60) & (obs["ONTIME"] <= 28 * 60))
    np.testing.assert_allclose(obs["ONTIME"], stop - start, rtol=1e-12)
    np.testing.assert_allclose(obs["LIVETIME"], obs["ONTIME"] * obs["DEADC"], rtol=1e-6)
    span_years = (stop[-1] - start[0]) / (365.25 * 86400)
    assert 5 < span_years <= 10.1
    for col_time, col_date, t in (("TIME_OBS", "DATE_OBS", start), ("TIME_END", "DATE_END", stop)):
        utc = Time(MJDREFI + MJDREFF + t / 86400.0, format="mjd", scale="tt").utc
        utc.precision = 0
        expected = [s.split(" ") for s in utc.iso]
        assert [[d, tm] for d, tm in zip(obs[col_date], obs[col_time])] == expected
    # at night: 20:30 to 04:00 local mean solar time
    local_hours = ((MJDREFF + start / 86400.0) % 1 * 24 + SITE_LON_DEG / 15) % 24
    assert np.all((local_hours > 20.4) | (local_hours < 4.0))


def test_galactic_coordinates_match_astropy(stores):
    _, obs = read_index(stores["shared_files"], "obs")
    galactic = SkyCoord(obs["RA_PNT"] * u.deg, obs["DEC_PNT"] * u.deg).galactic
    lon_diff = (galactic.l.deg - obs["GLON_PNT"] + 180) % 360 - 180
    assert np.abs(lon_diff).max() < 1e-4
    assert np.abs(galactic.b.deg - obs["GLAT_PNT"]).max() < 1e-4


def test_horizontal_coordinates_match_astropy_altaz(stores):
    _, obs = read_index(stores["flat"], "obs")
    location = EarthLocation.from_geodetic(SITE_LON_DEG * u.deg, SITE_LAT_DEG * u.deg, SITE_ALTITUDE_M * u.m)
    tmid = Time(MJDREFI + MJDREFF + 0.5 * (obs["TSTART"] + obs["TSTOP"]) / 86400.0, format="mjd", scale="tt")
    with iers.conf.set_temp("auto_download", False):
        frame = AltAz(obstime=tmid, location=location)  # pressure 0: no refraction
        expected = SkyCoord(obs["RA_PNT"] * u.deg, obs["DEC_PNT"] * u.deg).transform_to(frame)
        ours = SkyCoord(obs["AZ_PNT"] * u.deg, obs["ALT_PNT"] * u.deg, frame=frame)
        assert expected.separation(ours).deg.max() < 0.1
    assert np.abs(expected.alt.deg - obs["ALT_PNT"]).max() < 0.1
    np.testing.assert_allclose(obs["ZEN_PNT"], 90.0 - obs["ALT_PNT"], atol=1e-4)


def test_pointings_targets_and_survey(tmp_path):
    _, obs = read_index(make_data_store(tmp_path, 3000, n_files=1, seed=7), "obs")
    assert obs["ZEN_PNT"].max() <= 60.0 + 1e-3
    assert obs["DEC_PNT"].min() > -90 and obs["DEC_PNT"].max() < 40
    survey = obs["OBJECT"] == "survey"
    assert 0.3 < survey.mean() < 0.8
    assert set(obs["TARGET_TAG"][survey]) == {"survey"}
    assert set(obs["TARGET_TAG"][~survey]) <= {"pwn", "agn", "snr", "gc"}
    assert {"Crab", "PKS 2155-304", "RX J1713.7-3946"} <= set(obs["OBJECT"])
    np.testing.assert_allclose(obs["OFFSET_OBJ"][~survey], 0.5, atol=1e-4)
    np.testing.assert_array_equal(obs["OFFSET_OBJ"][survey], 0.0)
    separation = SkyCoord(obs["RA_PNT"] * u.deg, obs["DEC_PNT"] * u.deg).separation(
        SkyCoord(obs["RA_OBJ"] * u.deg, obs["DEC_OBJ"] * u.deg)
    )
    np.testing.assert_allclose(separation.deg, obs["OFFSET_OBJ"], atol=1e-4)
    # survey pointings cover the visible sky: every 30-deg RA sector and DEC band from -80 to +30
    assert len(np.unique(obs["RA_PNT"][survey] // 30)) == 12
    assert set(np.unique(obs["DEC_PNT"][survey] // 10)) >= set(range(-8, 3))


# -- referenced files and HDUs -------------------------------------------------------------------


@pytest.mark.parametrize("name", list(STORES))
def test_every_referenced_hdu_exists(stores, name):
    index_dir = stores[name]
    _, obs = read_index(index_dir, "obs")
    _, hdu = read_index(index_dir, "hdu")
    gzip = STORES[name].get("gzip", True)
    counts = dict(zip(obs["OBS_ID"], obs["EVENT_COUNT"]))
    for (file_dir, file_name), rows in _group_rows(hdu).items():
        path = index_dir / file_dir / file_name
        assert path.is_file(), path
        assert file_name.endswith(".fits.gz" if gzip else ".fits")
        assert (path.read_bytes()[:2] == b"\x1f\x8b") == gzip
        with fits.open(path) as hdul:
            for row in rows:
                header = hdul[row["HDU_NAME"]].header
                clas1, clas4 = HDU_CLASSES[row["HDU_CLASS"]]
                assert header["HDUCLAS1"] == clas1 and header.get("HDUCLAS4") == clas4
                assert header["HDUCLASS"] == "GADF" and header["HDUVERS"] == "0.3"
                assert row["SIZE"] == len(header.tostring()) + _padded(header["NAXIS1"] * header["NAXIS2"])
            if "EVENTS" in hdul:
                events, header = hdul["EVENTS"].data, hdul["EVENTS"].header
                assert len(events) == counts[header["OBS_ID"]]
                assert np.all((events["TIME"] >= header["TSTART"]) & (events["TIME"] <= header["TSTOP"]))
                gti = hdul["GTI"].data
                assert (gti["START"][0], gti["STOP"][0]) == (header["TSTART"], header["TSTOP"])
                for key in ("MJDREFI", "MJDREFF", "TIMESYS", "TIMEUNIT", "TIMEREF"):
                    assert header[key] == hdul["GTI"].header[key]


def _group_rows(hdu: fits.FITS_rec) -> dict[tuple[str, str], list]:
    groups: dict[tuple[str, str], list] = {}
    for row in hdu:
        groups.setdefault((row["FILE_DIR"], row["FILE_NAME"]), []).append(row)
    return groups


def _padded(nbytes: int) -> int:
    return -(-nbytes // 2880) * 2880


def test_flat_layout_one_file_per_observation(stores):
    index_dir = stores["flat"]
    _, obs = read_index(index_dir, "obs")
    _, hdu = read_index(index_dir, "hdu")
    assert set(hdu["FILE_DIR"]) == {"data"}
    files = sorted(p.name for p in (index_dir / "data").iterdir())
    assert files == [f"obs_{i:06d}.fits.gz" for i in obs["OBS_ID"]]
    assert list(hdu["HDU_TYPE"][:6]) == ["events", "gti", "aeff", "edisp", "psf", "bkg"]
    assert list(hdu["HDU_NAME"][:6]) == ["EVENTS", "GTI", "AEFF", "EDISP", "PSF", "BKG"]
    for row in hdu[hdu["HDU_TYPE"] == "events"]:
        with fits.open(index_dir / "data" / row["FILE_NAME"]) as hdul:
            header = hdul["EVENTS"].header
            index_row = obs[obs["OBS_ID"] == row["OBS_ID"]][0]
            assert header["OBS_ID"] == row["OBS_ID"] and header["OBJECT"] == index_row["OBJECT"]
            assert header["RA_PNT"] == index_row["RA_PNT"] and header["TSTART"] == index_row["TSTART"]
            assert hdul["PSF"].header["ZEN_PNT"] == pytest.approx(index_row["ZEN_PNT"], abs=1e-6)


def test_n_files_writes_exactly_k_files(stores):
    index_dir = stores["shared_files"]
    _, hdu = read_index(index_dir, "hdu")
    files = sorted(p.name for p in (index_dir / "data").iterdir())
    assert len(files) == 4 and sorted(set(hdu["FILE_NAME"])) == files
    obs_ids = np.unique(hdu["OBS_ID"])
    for i, obs_id in enumerate(obs_ids):
        assert set(hdu["FILE_NAME"][hdu["OBS_ID"] == obs_id]) == {f"obs_{obs_ids[i % 4]:06d}.fits.gz"}


def test_caldb_layout_shares_irf_files_through_relative_paths(stores, tmp_path):
    assert make_data_store(tmp_path, 3, layout="caldb") == tmp_path / "index"
    index_dir = stores["caldb"]
    assert index_dir.name == "index"
    _, obs = read_index(index_dir, "obs")
    _, hdu = read_index(index_dir, "hdu")
    assert all(d.startswith("..") for d in hdu["FILE_DIR"])
    is_irf = np.isin(hdu["HDU_TYPE"], ["aeff", "edisp", "psf", "bkg"])
    assert set(hdu["FILE_DIR"][is_irf]) == {"../caldb/data/synth"}
    assert set(hdu["FILE_DIR"][~is_irf]) == {"../data"}
    assert set(hdu["FILE_NAME"][~is_irf]) == {f"run_{i:06d}.fits.gz" for i in obs["OBS_ID"]}
    irf_files = sorted(p.name for p in (index_dir.parent / "caldb" / "data" / "synth").iterdir())
    assert irf_files == [f"irf_zen{z:02d}.fits.gz" for z in CALDB_ZENITH_DEG]
    assert 1 < len(set(hdu["FILE_NAME"][is_irf])) <= len(irf_files) < len(obs)
    for obs_id, zen in zip(obs["OBS_ID"], obs["ZEN_PNT"]):
        rows = hdu[(hdu["OBS_ID"] == obs_id) & is_irf]
        nearest = min(CALDB_ZENITH_DEG, key=lambda z: abs(z - zen))
        assert set(rows["FILE_NAME"]) == {f"irf_zen{nearest:02d}.fits.gz"}


# -- analytic IRFs -------------------------------------------------------------------------------


@pytest.mark.parametrize("name, zenith", [("caldb", z) for z in CALDB_ZENITH_DEG] + [("flat", None)])
def test_psf_table_normalised_with_closed_form_containment(stores, name, zenith):
    index_dir = stores[name]
    if zenith is None:
        path = next((index_dir / "data").iterdir())
    else:
        path = index_dir.parent / "caldb" / "data" / "synth" / f"irf_zen{zenith:02d}.fits.gz"
    psf, zen = psf_table(path)
    assert psf["RPSF"].shape == (200, 6, 32)  # (rad, theta, energy)
    rad_edges = np.append(psf["RAD_LO"], psf["RAD_HI"][-1])
    solid_angle = np.pi * np.diff(np.radians(rad_edges) ** 2)  # sr of each ring (small angles)
    enclosed = np.cumsum(psf["RPSF"] * solid_angle[:, None, None], axis=0)
    np.testing.assert_allclose(enclosed[-1], 1.0, atol=1e-3)
    energy = np.sqrt(psf["ENERG_LO"] * psf["ENERG_HI"])
    theta = 0.5 * (psf["THETA_LO"] + psf["THETA_HI"])
    sigma = psf_sigma_deg(energy[None, :], theta[:, None], zen)
    r68_expected = sigma * math.sqrt(-2 * math.log(0.32))
    cdf = np.concatenate([np.zeros((1, 6, 32)), enclosed])
    r68 = np.array([[np.interp(0.68, cdf[:, i, j], rad_edges) for j in range(32)] for i in range(6)])
    np.testing.assert_allclose(r68, r68_expected, atol=rad_edges[1] - rad_edges[0])
    # the values are bin averages of dP/dOmega = exp(-r^2 / 2 s^2) / (2 pi s^2)
    peak = 1.0 / (2 * np.pi * np.radians(sigma) ** 2)
    np.testing.assert_allclose(psf["RPSF"][0], peak, rtol=0.01)


def test_edisp_rows_normalised_and_centred_on_bias(stores):
    with fits.open(stores["caldb"].parent / "caldb" / "data" / "synth" / "irf_zen40.fits.gz") as hdul:
        data = hdul["EDISP"].data
        zen = hdul["EDISP"].header["ZEN_PNT"]
        matrix = np.asarray(data["MATRIX"][0], dtype=float)
        migra_lo, migra_hi = data["MIGRA_LO"][0], data["MIGRA_HI"][0]
        energy = np.sqrt(data["ENERG_LO"][0] * data["ENERG_HI"][0])
    assert matrix.shape == (6, 100, 32)  # (theta, migra, energy)
    assert migra_lo[0] == pytest.approx(0.2) and migra_hi[-1] == pytest.approx(5.0)
    dmigra = (migra_hi - migra_lo)[None, :, None]
    np.testing.assert_allclose((matrix * dmigra).sum(axis=1), 1.0, rtol=1e-5)
    mean = (matrix * dmigra * np.sqrt(migra_lo * migra_hi)[None, :, None]).sum(axis=1)[0]
    high = energy > 2 * energy_threshold_tev(zen)  # away from the truncation at migra 0.2
    np.testing.assert_allclose(mean[high], 1 + edisp_bias(energy[high], zen), atol=0.01)


def test_aeff_and_bkg_tables_equal_closed_form(stores):
    with fits.open(stores["caldb"].parent / "caldb" / "data" / "synth" / "irf_zen20.fits.gz") as hdul:
        aeff, bkg = hdul["AEFF"].data, hdul["BKG"].data
        assert hdul["AEFF"].columns["EFFAREA"].unit == "m2"
        assert hdul["BKG"].columns["BKG"].unit == "s-1 MeV-1 sr-1"
        energy = np.sqrt(aeff["ENERG_LO"][0] * aeff["ENERG_HI"][0])
        theta = 0.5 * (aeff["THETA_LO"][0] + aeff["THETA_HI"][0])
        np.testing.assert_allclose(aeff["EFFAREA"][0], effective_area_m2(energy, theta[:, None], 20), rtol=1e-5)
        assert aeff["EFFAREA"][0].max() == pytest.approx(1e5 * math.cos(math.radians(20)) ** -0.5, rel=0.02)
        detx = 0.5 * (bkg["DETX_LO"][0] + bkg["DETX_HI"][0])
        dety = 0.5 * (bkg["DETY_LO"][0] + bkg["DETY_HI"][0])
        offset = np.hypot(dety[:, None], detx[None, :])[:, :, None]
        assert bkg["BKG"][0].shape == (len(dety), len(detx), len(energy))  # (dety, detx, energy)
        np.testing.assert_allclose(bkg["BKG"][0], background_rate(energy, offset, 20), rtol=1e-5)


def test_irfs_degrade_smoothly_with_zenith():
    zenith = np.linspace(0, 60, 13)
    for values in (
        psf_sigma_deg(1.0, 0.5, zenith),
        edisp_resolution(1.0, 0.5, zenith),
        energy_threshold_tev(zenith),
        -effective_area_m2(0.3, 0.5, zenith),
    ):
        assert np.all(np.diff(values) > 0)
    assert psf_sigma_deg(0.1, 0.5, 0) > psf_sigma_deg(10.0, 0.5, 0)
    assert psf_sigma_deg(1.0, 2.5, 0) > psf_sigma_deg(1.0, 0.0, 0)
    assert effective_area_m2(1.0, 2.5, 0) < effective_area_m2(1.0, 0.0, 0)
    assert background_rate(1.0, 0.0, 0) == pytest.approx(1e-4, rel=0.02)


# -- determinism, options, speed -----------------------------------------------------------------


def test_same_seed_gives_identical_bytes(stores, tmp_path):
    again = make_data_store(tmp_path / "again", **STORES["flat"])
    _, hdu = read_index(again, "hdu")
    for name in ("obs-index.fits.gz", "hdu-index.fits.gz", f"data/{hdu['FILE_NAME'][0]}"):
        assert (again / name).read_bytes() == (stores["flat"] / name).read_bytes(), name
    other = make_data_store(tmp_path / "other", 20, seed=1)
    assert (other / "obs-index.fits.gz").read_bytes() != (again / "obs-index.fits.gz").read_bytes()


def test_files_are_what_astropy_itself_writes(stores, tmp_path):
    for path in [stores["flat_plain"] / "obs-index.fits", next((stores["flat_plain"] / "data").iterdir())]:
        with fits.open(path) as hdul:
            hdul.writeto(tmp_path / "copy.fits", overwrite=True)
        assert (tmp_path / "copy.fits").read_bytes() == path.read_bytes()


def test_many_observations_extend_the_schedule_beyond_ten_years(tmp_path):
    index_dir = make_data_store(tmp_path, 60_000, n_files=2)
    _, obs = read_index(index_dir, "obs")
    _, hdu = read_index(index_dir, "hdu")
    assert (len(obs), len(hdu)) == (60_000, 360_000)
    assert np.all(obs["TSTART"][1:] >= obs["TSTOP"][:-1])
    assert 10.5 < (obs["TSTOP"][-1] - obs["TSTART"][0]) / (365.25 * 86400) < 16
    assert len(list((index_dir / "data").iterdir())) == 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_obs=0), "n_obs"),
        (dict(n_obs=5, n_files=0), "n_files"),
        (dict(n_obs=5, n_files=6), "n_files"),
        (dict(n_obs=5, layout="nested"), "layout"),
    ],
)
def test_invalid_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_data_store(tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())
