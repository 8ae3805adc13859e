"""IRF features: parity with Gammapy 2.1 on real data, closed-form checks, storage, bad input."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from conftest import snapshot
from typer.testing import CliRunner

from obscat import InputError
from obscat.cli.app import app

REFERENCE = Table.read(Path(__file__).parent / "reference" / "gammapy_features_hess.ecsv")
POSITION = SkyCoord(329.71693826 * u.deg, -30.2255890 * u.deg)
CRAB = SkyCoord(83.6331 * u.deg, 22.0145 * u.deg)
GAMMAPY = ["edisp-res", "edisp-bias", "psf-radius"]


def _assert_parity(table: Table, case: str) -> None:
    reference = REFERENCE[REFERENCE["case"] == case]
    assert list(table["obs_id"]) == list(reference["obs_id"])
    for name in GAMMAPY:
        np.testing.assert_allclose(table[name], reference[name], rtol=1e-9, atol=0)
    assert table["psf-radius"].unit == u.deg


def test_parity_with_gammapy_at_the_tutorial_position(hess):
    ids = REFERENCE[REFERENCE["case"] == "position"]["obs_id"]
    table = hess.compute_features("1 TeV", position=POSITION, obs_ids=ids, features=GAMMAPY, workers=2)
    _assert_parity(table, "position")


def test_parity_with_gammapy_at_offset_zero_for_all_105(hess):
    table = hess.compute_features(1 * u.TeV, store="hess", workers=2)  # in a process pool; Gammapy's default features
    _assert_parity(table, "offset0")
    # position=None is the pointing: the same as a fixed offset of 0 deg
    again = hess.compute_features("1e6 MeV", fixed_offset=0 * u.deg, store="hess")
    for name in GAMMAPY:
        np.testing.assert_array_equal(again[name], table[name])


def test_sets_are_stored_idempotent_and_deletable(hess, db_url):
    first = hess.compute_features("1 TeV", store="hess", obs_ids=[23523, 23526])
    name = first.meta["feature_set"]
    before = snapshot(db_url)["feature_value"]
    second = hess.compute_features("1 TeV", store="hess", obs_ids=[23523, 23526])
    assert second.meta["feature_set"] == name and snapshot(db_url)["feature_value"] == before
    other = hess.compute_features("2 TeV", store="hess", obs_ids=[23523])
    assert other.meta["feature_set"] != name
    with hess.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT s.name, o.obs_id, v.feature, v.value, v.unit FROM feature_value v "
            "JOIN feature_set s ON s.id = v.feature_set_id JOIN observation o ON o.id = v.observation_id "
            "WHERE v.feature = 'psf-radius' ORDER BY s.id, o.obs_id"
        )).all()  # fmt: skip
    assert [(r[0], r[1], r[4]) for r in rows] == [(name, 23523, "deg"), (name, 23526, "deg"),
                                                  (other.meta["feature_set"], 23523, "deg")]  # fmt: skip
    result = CliRunner().invoke(app, ["--db", db_url, "features", "delete", name])
    assert result.stdout == f"deleted feature set {name!r}\n"
    with hess.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM feature_value")).scalar() == 3


def test_point_like_magic_null_with_reason_and_rad_max(catalog, magic_dir):
    from gammapy.data import DataStore

    catalog.ingest(magic_dir, name="magic")
    names = ["psf-radius", "rad-max", "edisp-res", "edisp-bias", "aeff"]
    table = catalog.compute_features("1 TeV", features=names, position=CRAB)
    assert np.ma.getmaskarray(table["psf-radius"]).all() and table["rad-max"].unit == u.deg
    store = DataStore.from_dir(magic_dir)
    observations = [store.obs(int(i), required_irf="point-like") for i in table["obs_id"]]
    for row, obs in zip(table, observations):
        offset = CRAB.separation(obs.get_pointing_icrs(obs.tmid))
        assert 0.39 < offset.deg < 0.41  # inside the IRFs' single offset bin
        kernel = obs.edisp.to_edisp_kernel(offset)
        expected = {"rad-max": obs.rad_max.evaluate(energy=1 * u.TeV, offset=offset).to_value("deg"),
                    "aeff": obs.aeff.evaluate(energy_true=1 * u.TeV, offset=offset).to_value("m2"),
                    "edisp-res": kernel.get_resolution(1 * u.TeV)[0], "edisp-bias": kernel.get_bias(1 * u.TeV)[0]}
        for name, value in expected.items():
            assert row[name] == pytest.approx(float(value), rel=1e-9, abs=0), name
    with catalog.engine.connect() as conn:
        reasons = conn.execute(sa.text("SELECT DISTINCT null_reason FROM feature_value WHERE value IS NULL")).all()
    assert reasons == [("no PSF HDU (point-like IRF?)",)]


def test_closed_form_psf_and_aeff_on_synthetic_irfs(catalog, tmp_path):
    from obscat.gadf.synthetic import effective_area_m2, make_data_store, psf_sigma_deg

    catalog.ingest(make_data_store(tmp_path / "s", 6), name="s")
    energy = math.sqrt(1.0 * 10**0.125)  # the centre of a synthetic true-energy bin (8 per decade)
    table = catalog.compute_features(energy * u.TeV, features=["psf-radius", "aeff", "aeff-max"], fixed_offset=0.25)
    zenith = catalog.observations(store="s")["zen_pnt_deg"]
    # psf-radius sits on a grid of rad-bin/20 = 2.5e-4 deg; the model is bin-averaged
    expected = psf_sigma_deg(energy, 0.25, zenith) * math.sqrt(-2 * math.log(0.32))
    np.testing.assert_allclose(table["psf-radius"], expected, atol=6e-4)
    np.testing.assert_allclose(table["aeff"], effective_area_m2(energy, 0.25, zenith), rtol=1e-5)  # float32 IRF
    assert np.all(table["aeff-max"] >= table["aeff"])


def test_strict_errors_name_file_hdu_and_observation_and_write_nothing(hess, db_url):
    before = snapshot(db_url)
    result = CliRunner().invoke(app, ["--db", db_url, "features", "compute", "-e", "1000 TeV", "--obs-id", "23523",
                                      "--strict"])  # fmt: skip
    assert result.exit_code == 1
    path = hess.observation(23523).hdus[0].path
    assert result.stderr == (f"Error: OBS_ID 23523: edisp-bias: {path} [edisp]: true energy 1000 TeV is outside "
                             "the IRF range [0.01, 100) TeV\n")  # fmt: skip
    assert snapshot(db_url) == before
    table = hess.compute_features("1000 TeV", obs_ids=[23523])  # not strict: NULL with the same reason
    assert np.ma.getmaskarray(table["edisp-res"]).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-e", "1 TeV", "--offset", "-1"], "--offset must be a non-negative angle, not -1.0 deg"),
        (["-e", "1 TeV", "-F", "psf-sigma"], "unknown feature 'psf-sigma' (known: edisp-res, edisp-bias, psf-radius, "
                                             "aeff, aeff-max, energy-threshold, bkg-rate, rad-max)"),
        (["-e", "1 m"], "--energy-true '1 m' is not an energy (e.g. '1 TeV')"),
        (["-e", "1 TeV", "--obs-id", "1"], "no observation with OBS_ID 1"),
        (["-e", "1 TeV", "--position", "1 2", "--offset", "1"], "give --position or --offset, not both"),
    ],
)
def test_bad_parameters(hess, db_url, args, message):
    before = snapshot(db_url)
    result = CliRunner().invoke(app, ["--db", db_url, "features", "compute", *args])
    assert (result.exit_code, result.stderr) == (1, f"Error: {message}\n")
    assert snapshot(db_url) == before


@pytest.mark.parametrize("damage", ["nan", "shape", "column"])
def test_corrupted_irf_hdu(catalog, hess_dir, tmp_path, damage):
    data = tmp_path / "data"
    data.mkdir()
    source = hess_dir / "data" / "hess_dl3_dr1_obs_id_023523.fits.gz"
    with fits.open(source) as hdul:
        edisp = hdul["EDISP"]
        if damage == "nan":
            edisp.data["MATRIX"][0][0, 0, 0] = np.nan
        elif damage == "shape":
            edisp.header["TDIM7"] = "(6,160,96)"  # axes no longer match the data
        else:
            edisp.columns.change_name("MATRIX", "MATRIX_X")
        hdul.writeto(data / source.name)
    obs = Table.read(hess_dir / "obs-index.fits.gz")
    hdu = Table.read(hess_dir / "hdu-index.fits.gz")
    obs, hdu = obs[obs["OBS_ID"] == 23523], hdu[hdu["OBS_ID"] == 23523]
    obs.write(tmp_path / "obs-index.fits.gz")
    hdu.write(tmp_path / "hdu-index.fits.gz")
    catalog.ingest(tmp_path, name="damaged")
    where = f"{data / source.name} [edisp]"
    reason = {"nan": f"{where}: column MATRIX holds NaN or infinite values",
              "shape": f"{where}: column MATRIX has shape (6, 160, 96), expected (96, 160, 6) from its axes",
              "column": f"{where}: missing column MATRIX"}[damage]  # fmt: skip
    with pytest.raises(InputError, match=r"^OBS_ID 23523: edisp-res: " + re.escape(reason) + "$"):
        catalog.compute_features("1 TeV", features=["edisp-res", "psf-radius"], strict=True)
    table = catalog.compute_features("1 TeV", features=["edisp-res", "psf-radius"])
    assert np.ma.getmaskarray(table["edisp-res"]).all() and not np.ma.getmaskarray(table["psf-radius"]).any()


def test_features_cli_list_and_show(hess, db_url):
    runner = CliRunner()
    result = runner.invoke(app, ["--db", db_url, "features", "compute", "-e", "1 TeV", "--obs-id", "23523",
                                 "--obs-id", "23526", "-F", "psf-radius", "-F", "aeff", "-f", "csv"])  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "store,obs_id,aeff,psf-radius" and lines[1].startswith("hess,23523,")
    name = result.stderr.split()[2].rstrip(":")
    listing = runner.invoke(app, ["--db", db_url, "features", "list", "-f", "csv"]).stdout.splitlines()
    assert listing[1].startswith(f"{name},1.0,,,,0.68,2,0,")
    shown = runner.invoke(app, ["--db", db_url, "features", "show", name, "-f", "csv"]).stdout
    assert shown.splitlines() == lines
    missing = runner.invoke(app, ["--db", db_url, "features", "show", "fs-nope"])
    assert (missing.exit_code, missing.stderr) == (1, "Error: no feature set named 'fs-nope'\n")


def test_reingest_removing_an_observation_removes_its_feature_values(catalog, hess_dir, tmp_path):
    obs = Table.read(hess_dir / "obs-index.fits.gz")
    hdu = Table.read(hess_dir / "hdu-index.fits.gz")
    hdu["FILE_DIR"] = [str(hess_dir / "data")] * len(hdu)
    keep = [23523, 23526, 23559]
    obs, hdu = obs[np.isin(obs["OBS_ID"], keep)], hdu[np.isin(hdu["OBS_ID"], keep)]
    obs.write(tmp_path / "obs-index.fits.gz")
    hdu.write(tmp_path / "hdu-index.fits.gz")
    catalog.ingest(tmp_path, name="s")
    catalog.compute_features("1 TeV", store="s")
    obs[obs["OBS_ID"] != 23526].write(tmp_path / "obs-index.fits.gz", overwrite=True)
    hdu[hdu["OBS_ID"] != 23526].write(tmp_path / "hdu-index.fits.gz", overwrite=True)
    assert catalog.ingest(tmp_path, name="s").removed == 1
    with catalog.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM feature_value")).scalar() == 2 * 3


def _analytic_psf_store(path: Path, hdu_class: str, columns: dict[str, float]) -> Path:
    """A one-observation store whose PSF is ``hdu_class`` with constant parameters."""
    path.mkdir()
    energy = np.logspace(-1, 2, 13)
    theta = np.array([0.0, 1.0, 2.0, 3.0])
    shape = (1, len(theta) - 1, len(energy) - 1)  # FITS order: (THETA, ENERG) per row
    cols = [fits.Column(f"{axis}_{side}", f"{len(edges) - 1}E", unit=unit, array=[edges[:-1] if side == "LO" else edges[1:]])
            for axis, edges, unit in (("ENERG", energy, "TeV"), ("THETA", theta, "deg")) for side in ("LO", "HI")]
    for name, value in columns.items():
        unit = "deg" if name.startswith("SIGMA") else ("sr-1" if name == "SCALE" else None)
        cols.append(fits.Column(name, f"{np.prod(shape)}E", unit=unit, dim=f"({len(energy) - 1},{len(theta) - 1})",
                                array=np.full(shape, value)))
    psf = fits.BinTableHDU.from_columns(cols, name="PSF")
    fits.HDUList([fits.PrimaryHDU(), psf]).writeto(path / "irf.fits")
    obs = Table({"OBS_ID": [1], "RA_PNT": [10.0], "DEC_PNT": [-20.0], "TSTART": [0.0], "TSTOP": [1800.0]})
    obs.meta.update(MJDREFI=51910, MJDREFF=0.0, TIMESYS="TT")
    obs.write(path / "obs-index.fits")
    hdu = Table({"OBS_ID": [1], "HDU_TYPE": ["psf"], "HDU_CLASS": [hdu_class], "FILE_DIR": ["."],
                 "FILE_NAME": ["irf.fits"], "HDU_NAME": ["PSF"]})  # fmt: skip
    hdu.write(path / "hdu-index.fits")
    return path


def test_king_psf_radius_in_closed_form(catalog, tmp_path):
    from gammapy.irf import PSFKing

    gamma, sigma = 2.5, 0.05
    store = _analytic_psf_store(tmp_path / "king", "psf_king", {"GAMMA": gamma, "SIGMA": sigma})
    catalog.ingest(store, name="k")
    exact = catalog.compute_features("1 TeV", features=["psf-radius"], containment_fraction=0.8, psf_containment="exact")
    expected = sigma * math.sqrt(2 * gamma * ((1 - 0.8) ** (1 / (1 - gamma)) - 1))
    assert exact["psf-radius"][0] == pytest.approx(expected, rel=1e-6)
    # the default is Gammapy's radius, on its 0.0005 deg grid: 1.1e-3 relative from the exact one here
    default = catalog.compute_features("1 TeV", features=["psf-radius"], containment_fraction=0.8)
    gammapy = PSFKing.read(store / "irf.fits", hdu="PSF").containment_radius(0.8, energy_true=1 * u.TeV, offset=0 * u.deg)
    assert default["psf-radius"][0] == pytest.approx(gammapy.to_value("deg"), rel=1e-12)
    assert default["psf-radius"][0] == pytest.approx(0.15525) and abs(default["psf-radius"][0] - expected) < 0.00025


def test_triple_gauss_psf_radius_in_closed_form(catalog, tmp_path):
    from gammapy.irf import EnergyDependentMultiGaussPSF

    # one Gaussian (the other amplitudes zero): r68 = sigma * sqrt(-2 ln 0.32)
    params = {"SCALE": 1.0, "SIGMA_1": 0.125, "AMPL_2": 0.0, "SIGMA_2": 0.25, "AMPL_3": 0.0, "SIGMA_3": 0.5}  # exact in float32
    store = _analytic_psf_store(tmp_path / "g", "psf_3gauss", params)
    catalog.ingest(store, name="g")
    exact = catalog.compute_features("1 TeV", features=["psf-radius"], psf_containment="exact")
    assert exact["psf-radius"][0] == pytest.approx(0.125 * math.sqrt(-2 * math.log(0.32)), rel=1e-9)
    default = catalog.compute_features("1 TeV", features=["psf-radius"])
    psf = EnergyDependentMultiGaussPSF.read(store / "irf.fits", hdu="PSF")
    gammapy = psf.containment_radius(0.68, energy_true=1 * u.TeV, offset=0 * u.deg).to_value("deg")
    assert default["psf-radius"][0] == pytest.approx(gammapy, rel=1e-12) and default["psf-radius"][0] == pytest.approx(0.18875)


def test_psf_containment_flag_of_the_cli(catalog, tmp_path, db_url):
    catalog.ingest(_analytic_psf_store(tmp_path / "k", "psf_king", {"GAMMA": 2.5, "SIGMA": 0.05}), name="k")
    args = ["--db", db_url, "features", "compute", "-e", "1 TeV", "-F", "psf-radius", "--containment", "0.8", "-f", "csv"]
    assert CliRunner().invoke(app, args).stdout.splitlines()[1] == "k,1,0.15525"
    exact = CliRunner().invoke(app, [*args, "--psf-containment", "exact"])
    assert exact.exit_code == 0 and float(exact.stdout.splitlines()[1].split(",")[2]) == pytest.approx(0.155081339, rel=1e-6)
    bad = CliRunner().invoke(app, [*args, "--psf-containment", "closed"])
    assert bad.exit_code == 2 and "'closed' is not one of" in re.sub(r"[\s│]+", " ", bad.output)
    with pytest.raises(InputError, match=r"^`psf_containment` must be 'gammapy' or 'exact', not 'closed'$"):
        catalog.compute_features("1 TeV", features=["psf-radius"], psf_containment="closed")


def test_background_rate_of_bkg_3d_in_closed_form(catalog, tmp_path):
    from obscat.gadf.synthetic import background_rate, make_data_store

    catalog.ingest(make_data_store(tmp_path / "s", 4), name="s")
    energy = math.sqrt(1.0 * 10**0.125)  # a bin centre
    table = catalog.compute_features(energy * u.TeV, features=["bkg-rate"], fixed_offset=0.125)
    zenith = catalog.observations(store="s")["zen_pnt_deg"]
    # (0.125, 0) lies halfway between the bin centres (0.125, +-0.125), both at radius 0.125 * sqrt(2)
    expected = background_rate(energy, math.hypot(0.125, 0.125), zenith)
    np.testing.assert_allclose(table["bkg-rate"], expected, rtol=1e-5)
    assert table["bkg-rate"].unit == u.Unit("s-1 MeV-1 sr-1")


def test_rad_max_header_constant_of_point_like_irfs(catalog, tmp_path):
    store = _analytic_psf_store(tmp_path / "p", "psf_king", {"GAMMA": 2.0, "SIGMA": 0.1})
    with fits.open(store / "irf.fits") as hdul:
        aeff = hdul["PSF"].copy()
        aeff.name = "AEFF"
        aeff.header["RAD_MAX"] = 0.1732
        aeff.columns.change_name("GAMMA", "EFFAREA")
        fits.HDUList([hdul[0], hdul["PSF"], aeff]).writeto(store / "irf.fits", overwrite=True)
    hdu = Table.read(store / "hdu-index.fits")
    hdu.add_row([1, "aeff", "aeff_2d", ".", "irf.fits", "AEFF"])
    hdu.write(store / "hdu-index.fits", overwrite=True)
    catalog.ingest(store, name="p")
    table = catalog.compute_features("1 TeV", features=["rad-max", "aeff"])
    assert table["rad-max"][0] == pytest.approx(0.1732) and table["aeff"][0] == pytest.approx(2.0)


def test_shared_irf_files_are_read_and_evaluated_once(catalog, tmp_path, monkeypatch):
    from obscat.compute import feature_eval as features
    from obscat.gadf.synthetic import make_data_store

    catalog.ingest(make_data_store(tmp_path / "c", 24, layout="caldb"), name="c")
    with catalog.engine.connect() as conn:
        n_files = conn.execute(sa.text("SELECT count(DISTINCT path) FROM hdu_location WHERE hdu_type = 'edisp'")).scalar()
    reads, evaluations = [], []
    read_tables, edisp_moments = features.read_tables, features.edisp_moments
    monkeypatch.setattr(features, "read_tables", lambda path, names, **kw: reads.append(path) or read_tables(path, names, **kw))
    monkeypatch.setattr(features, "edisp_moments", lambda *a: evaluations.append(a) or edisp_moments(*a))
    table = catalog.compute_features("1 TeV", features=["edisp-res", "psf-radius"], fixed_offset=0.5, workers=1)
    assert len(table) == 24 and not np.ma.getmaskarray(table["edisp-res"]).any()
    assert 1 < n_files < 24
    assert sorted(reads) == sorted(set(reads)) and len(reads) == n_files  # each shared file read once
    assert len(evaluations) == n_files  # and each IRF evaluated once at that offset


def test_all_zero_psf_is_null_with_reason(catalog, tmp_path):
    store = _analytic_psf_store(tmp_path / "z", "psf_king", {"GAMMA": 2.0, "SIGMA": 0.1})
    with fits.open(store / "irf.fits") as hdul:
        psf = hdul["PSF"]
        cols = [c for c in psf.columns if c.name not in ("GAMMA", "SIGMA")]
        cols.append(fits.Column("RPSF", "1728E", unit="sr-1", dim="(12,3,48)", array=np.zeros((1, 48, 3, 12))))
        cols.append(fits.Column("RAD_LO", "48E", unit="deg", array=[np.linspace(0, 0.47, 48)]))
        cols.append(fits.Column("RAD_HI", "48E", unit="deg", array=[np.linspace(0.01, 0.48, 48)]))
        table_hdu = fits.BinTableHDU.from_columns(cols, name="PSF")
        fits.HDUList([hdul[0], table_hdu]).writeto(store / "irf.fits", overwrite=True)
    hdu = Table.read(store / "hdu-index.fits")
    hdu["HDU_CLASS"] = ["psf_table"]
    hdu.write(store / "hdu-index.fits", overwrite=True)
    catalog.ingest(store, name="z")
    with pytest.raises(InputError, match=r"^OBS_ID 1: psf-radius: .*\[PSF\]: the PSF is zero at 1 TeV, offset 0 deg$"):
        catalog.compute_features("1 TeV", features=["psf-radius"], strict=True)
    assert np.ma.getmaskarray(catalog.compute_features("1 TeV", features=["psf-radius"])["psf-radius"]).all()


def test_features_of_a_selection(hess, db_url):
    result = CliRunner().invoke(app, ["--db", db_url, "features", "compute", "-e", "1 TeV", "--store", "hess",
                                      "--cone", "329.71693826 -30.2255 2", "--where", "zen_pnt_deg < 20",
                                      "-F", "psf-radius", "-f", "csv"])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()[1:]
    expected = [o for o in hess.select(dict(type="sky_circle", frame="icrs", lon="329.71693826 deg",
                                               lat="-30.2255 deg", radius="2 deg"))["obs_id"] if o in  # fmt: skip
                {row["obs_id"] for row in hess.observations(store="hess", columns=["obs_id", "zen_pnt_deg"]) if row["zen_pnt_deg"] < 20}]
    assert [int(r.split(",")[1]) for r in rows] == expected and 0 < len(expected) < 21


def test_memory_bounds_events_data_never_read_and_large_hdus_refused(hess, hess_dir, monkeypatch):
    """EVENTS tables are read for their header only; an HDU above MAX_TABLE_BYTES is a NULL with its reason."""
    from obscat.gadf import fits as fitsread

    path = str(hess_dir / "data" / "hess_dl3_dr1_obs_id_020136.fits.gz")
    events = fitsread.read_tables(path, {"EVENTS", "GTI"}, headers_only={"EVENTS"})
    assert events["EVENTS"].data is None and events["EVENTS"].header["OBS_ID"] == 20136
    assert len(events["GTI"].data) == 1
    monkeypatch.setattr(fitsread, "MAX_TABLE_BYTES", 100_000)
    table = hess.compute_features("1 TeV", obs_ids=[20136], features=["edisp-res", "aeff"], workers=1)
    assert np.ma.is_masked(table["edisp-res"][0]) and not np.ma.is_masked(table["aeff"][0])
    with hess.engine.connect() as conn:
        reason = conn.execute(sa.text("SELECT null_reason FROM feature_value WHERE feature = 'edisp-res'")).scalar()
    assert re.fullmatch(r".*020136\.fits\.gz \[edisp\]: HDU EDISP holds 0\.\d+ MiB of data, more than the 0\.0954 MiB "
                        r"obscat reads from one HDU", reason), reason  # fmt: skip


def _reasons(catalog, table) -> dict[str, str]:
    with catalog.engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT v.feature, v.null_reason FROM feature_value v JOIN feature_set s ON s.id = v.feature_set_id "
            "WHERE s.name = :name AND v.value IS NULL"), {"name": table.meta["feature_set"]}).all())  # fmt: skip


def test_where_gammapy_has_no_value_obscat_stores_null_with_reason(hess, hess_dir):
    """Each case: what Gammapy 2.1 returns (live), and the NULL and reason obscat stores."""
    import warnings

    from gammapy.data import DataStore

    with warnings.catch_warnings():  # Gammapy's own 0/0 warnings
        warnings.simplefilter("ignore")
        obs = DataStore.from_dir(hess_dir).obs(23523)
        kernel = obs.edisp.to_edisp_kernel(0 * u.deg)
        empty = (kernel.get_bias(0.11 * u.TeV)[0], kernel.get_resolution(0.11 * u.TeV)[0])
        psf = [obs.psf.containment_radius(f, energy_true=0.13335 * u.TeV, offset=0 * u.deg).to_value("deg") for f in (0.68, 0.95)]
        grid = obs.psf.axes["rad"].upsample(20).center
        peak = obs.psf.containment(rad=grid, energy_true=0.13335 * u.TeV, offset=0 * u.deg).max()
        far = obs.edisp.to_edisp_kernel(3 * u.deg).get_bias(1 * u.TeV)[0]
        far_aeff = obs.aeff.evaluate(energy_true=1 * u.TeV, offset=3 * u.deg).value
        far_bkg = obs.bkg.evaluate(energy=1 * u.TeV, fov_lon=3 * u.deg, fov_lat=0 * u.deg).value
        edges = obs.aeff.axes["energy_true"].edges
        far_area = obs.aeff.evaluate(offset=3 * u.deg, energy_true=edges)
    # 1. no migration probability at 0.11 TeV on axis: Gammapy's kernel row is empty, bias -1 and resolution NaN
    assert empty[0] == -1 and np.isnan(empty[1])
    table = hess.compute_features("0.11 TeV", obs_ids=[23523], features=["edisp-res", "edisp-bias"])
    assert np.ma.getmaskarray(table["edisp-res"]).all() and np.ma.getmaskarray(table["edisp-bias"]).all()
    reason = (r".*023523\.fits\.gz \[edisp\]: no migration probability at 0\.11 TeV "
              r"\(true-energy bin \[0\.1, 0\.110069\) TeV\), offset 0 deg")  # fmt: skip
    assert all(re.fullmatch(reason, r) for r in _reasons(hess, table).values()), _reasons(hess, table)
    # 2. the PSF table never contains 68 % at 0.13335 TeV: Gammapy returns a radius on the plateau of the
    #    containment anyway (0.373 deg for 68 % and for 95 %)
    assert peak < 0.68 and 0.37 < psf[0] < 0.374 and 0.37 < psf[1] < 0.374
    table = hess.compute_features("0.13335 TeV", obs_ids=[23523], features=["psf-radius"])
    assert np.ma.is_masked(table["psf-radius"][0])
    assert re.fullmatch(r".*\[psf\]: the PSF contains at most 0\.\d+ within 0\.6654 deg at 0\.13335 TeV, offset 0 deg, "
                        r"not the fraction 0\.68", _reasons(hess, table)["psf-radius"])  # fmt: skip
    # 3. beyond the IRFs' offsets (3 deg): Gammapy fills 0 (aeff, bkg), bias -1, and its aeff-max threshold
    #    (min of the edges above 10 % of the peak) raises on an empty array
    assert far == -1 and far_aeff == 0 and far_bkg == 0 and np.max(far_area).value == 0
    with pytest.raises(ValueError, match="zero-size array"):
        np.min(edges[far_area > 0.1 * np.max(far_area)])
    names = ["edisp-bias", "aeff", "aeff-max", "energy-threshold", "bkg-rate"]
    table = hess.compute_features("1 TeV", obs_ids=[23523], fixed_offset=3 * u.deg, features=names)
    assert all(np.ma.is_masked(table[name][0]) for name in names)
    assert _reasons(hess, table) == {name: f"{name} is undefined at offset 3 deg (outside the IRF)" for name in names}
    # 4. a true energy beyond the IRF: Gammapy fills 0; obscat names the range
    table = hess.compute_features("200 TeV", obs_ids=[23523], features=["aeff"])
    assert np.ma.is_masked(table["aeff"][0])
    assert re.fullmatch(r".*\[aeff\]: true energy 200 TeV is outside the IRF range", _reasons(hess, table)["aeff"])
