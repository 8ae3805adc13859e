"""Ground particle arrays (SWGO layouts) and stores split by event type, on both backends.

Every expected value comes from Gammapy 2.1 opening the same files in the test.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import sqlalchemy as sa
from astropy.io import fits
from astropy.table import Table
from gammapy.utils.fits import earth_location_from_dict

from obscat import Catalog

#: The three SWGO layouts: (obs index, HDU index).
LAYOUTS = {
    "minimal": ("obs-index.fits.gz", "hdu-index.fits.gz"),
    "irf-name": ("obs-index-irf-name.fits.gz", "hdu-index-irf-name.fits.gz"),
    "multi": ("obs-index-multi.fits.gz", "hdu-index-multi.fits.gz"),
}


def gammapy_store(directory, layout: str):
    from gammapy.data import DataStore

    obs_name, hdu_name = LAYOUTS[layout]
    return DataStore.from_dir(directory, hdu_table_filename=hdu_name, obs_table_filename=obs_name)


def ingest_layout(catalog: Catalog, swgo_dir, layout: str, name: str | None = None):
    obs_name, hdu_name = LAYOUTS[layout]
    return catalog.ingest(obs_index=swgo_dir / obs_name, hdu_index=swgo_dir / hdu_name, name=name or layout)


def rows(catalog: Catalog, sql: str, **params) -> list[tuple]:
    with catalog.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_swgo_layout_ingests_as_gammapy_reads_it(catalog, swgo_dir, layout):
    report = ingest_layout(catalog, swgo_dir, layout)
    store = gammapy_store(swgo_dir, layout)
    table = store.obs_table
    n = len(table)
    assert report.status == "created" and report.n_obs == n
    assert report.n_hdu == len(store.hdu_table)
    # 6 zenith/core bins of IRFs shared by every observation of the bin, plus one events file
    assert report.n_files == len({(r["FILE_DIR"], r["FILE_NAME"]) for r in store.hdu_table}) == 25
    assert report.n_missing_files == 0
    assert report.warnings == [
        f"{n} observations have no TSTART/TSTOP in the obs index: 0 taken from their GTI, 0 from their EVENTS "
        f"header, {n} have no times (NULL; first: OBS_ID 0)",
        f"{LAYOUTS[layout][0]} has no time reference (MJDREFI/MJDREFF): absolute times are NULL",
    ]
    got = rows(catalog, "SELECT obs_id, obs_mode, alt_pnt_deg, az_pnt_deg, event_type, irf_name, ra_pnt_deg, "
                        "dec_pnt_deg, ux, sky_zone, tstart_s, tstop_s, tstart_mjd FROM observation ORDER BY obs_id")
    expected_irf = list(table["IRF_NAME"]) if "IRF_NAME" in table.colnames else [None] * n
    assert got == [
        (int(r["OBS_ID"]), r["OBS_MODE"], float(r["ALT_PNT"]), float(r["AZ_PNT"]), r["EVENT_TYPE"], irf,
         None, None, None, None, None, None, None)
        for r, irf in zip(table, expected_irf)
    ]  # fmt: skip
    # the HDU classes Gammapy loads (map -> Map, edisp_kernel_map -> EDispKernelMap, psf_map -> PSFMap)
    classes = rows(catalog, "SELECT DISTINCT hdu_type, hdu_class FROM hdu ORDER BY hdu_type")
    assert classes == sorted({(str(r["HDU_TYPE"]), str(r["HDU_CLASS"])) for r in store.hdu_table})
    paths = {r[0] for r in rows(catalog, "SELECT path FROM hdu_file")}
    assert str(swgo_dir / "map_irfs" / "PSFMap_Zen [30, 45] Cor [58, 82].fits.gz") in paths
    site = rows(catalog, "SELECT geolon_deg, geolat_deg, altitude_m FROM data_store")[0]
    location = earth_location_from_dict(fits.getheader(swgo_dir / "map_irfs" / "DummyEvents.fits.gz", "EVENTS"))
    assert site == pytest.approx((location.lon.deg, location.lat.deg, location.height.to_value("m")), abs=1e-9)


def test_times_from_gti_then_events_header(catalog, hess_dir, tmp_path):
    """HESS index without TSTART/TSTOP: GTI times as Gammapy's Observation.tstart/tstop; with the
    GTI rows gone, the EVENTS header's TSTART/TSTOP."""
    from gammapy.data import DataStore

    obs = Table.read(hess_dir / "obs-index.fits.gz")[:4]
    hdu = Table.read(hess_dir / "hdu-index.fits.gz")
    hdu = hdu[np.isin(hdu["OBS_ID"], obs["OBS_ID"])]
    original = obs["TSTART", "TSTOP"].copy()
    obs.remove_columns(["TSTART", "TSTOP"])
    hdu.meta["BASE_DIR"] = str(hess_dir)
    for table, name in ((obs, "obs-index.fits.gz"), (hdu, "hdu-index.fits.gz")):
        table.write(tmp_path / name)
    report = catalog.ingest(tmp_path, name="gti")
    assert "4 observations have no TSTART/TSTOP in the obs index: 4 taken from their GTI, 0 from their EVENTS header" \
        in report.warnings
    store = DataStore.from_dir(hess_dir)
    got = rows(catalog, "SELECT obs_id, tstart_mjd, tstop_mjd FROM observation ORDER BY obs_id")
    for obs_id, tstart, tstop in got:
        observation = store.obs(obs_id)
        assert tstart == pytest.approx(observation.tstart.tt.mjd, abs=1e-9)  # 0.1 ms
        assert tstop == pytest.approx(observation.tstop.tt.mjd, abs=1e-9)

    no_gti = hdu[hdu["HDU_TYPE"] != "gti"]
    no_gti.write(tmp_path / "hdu-index.fits.gz", overwrite=True)
    report = catalog.ingest(tmp_path, name="events")
    assert "4 observations have no TSTART/TSTOP in the obs index: 0 taken from their GTI, 4 from their EVENTS header" \
        in report.warnings
    got = rows(catalog, "SELECT o.tstart_s, o.tstop_s FROM observation o JOIN data_store s ON s.id = o.store_id "
                        "WHERE s.name = 'events' ORDER BY o.obs_id")  # fmt: skip
    assert got == [(float(a), float(b)) for a, b in original]  # H.E.S.S. writes the same times in both


def cli(url: str, *args: str):
    from typer.testing import CliRunner

    from obscat.cli.app import app

    return CliRunner().invoke(app, ["--db", url, *args])


def test_event_type_is_selectable_and_groups(catalog, db_url, swgo_dir):
    from obscat.query import parse_where

    ingest_layout(catalog, swgo_dir, "multi")
    table = gammapy_store(swgo_dir, "multi").obs_table
    event_type = "Zen [30, 45] Cor [0, 58]"
    expected = sorted(int(i) for i in table["OBS_ID"][table["EVENT_TYPE"] == event_type])
    assert len(expected) == 2
    selected = catalog.select(parse_where(f"event_type == {event_type!r}"))
    assert list(selected["obs_id"]) == expected
    others = catalog.select(parse_where(f"event_type != {event_type!r} and irf_name != 'x'"))
    assert len(others) == len(table) - 2
    result = cli(db_url, "select", "--where", f'event_type == "{event_type}"', "-f", "ids")
    assert result.exit_code == 0 and result.stdout == "".join(f"{i}\n" for i in expected)
    result = cli(db_url, "select", "--where", 'event_type < "Zen"')
    assert result.exit_code == 1
    assert result.stderr == ("Error: malformed --where 'event_type < \"Zen\"': compare text column event_type with == "
                             "or != and a quoted string\n")  # fmt: skip

    grouping = catalog.group_by("by-event-type", "event_type")
    assert grouping.groups == {
        f"event_type_{value}": sorted(int(i) for i in table["OBS_ID"][table["EVENT_TYPE"] == value])
        for value in sorted(set(table["EVENT_TYPE"]))
    }
    result = cli(db_url, "group", "by", "irf_name", "--name", "by-irf")
    assert result.exit_code == 0 and result.stderr == "grouping 'by-irf': 12 observations in 6 groups\n"
    assert "irf_name_D9_Zen[0,30]Cor[0,58]         2   0 6" in result.stdout


def test_cone_reports_observations_without_pointing(catalog, db_url, swgo_dir, hess_dir):
    from conftest import sky_cone
    from gammapy.data import DataStore

    from obscat.query import parse_where

    catalog.ingest(hess_dir, name="hess")
    ingest_layout(catalog, swgo_dir, "multi", name="swgo")
    cone = sky_cone(329.71693826, -30.2255, 2.0)
    hess = DataStore.from_dir(hess_dir).obs_table
    kept = hess.select_observations({"type": "sky_circle", "frame": "icrs", "lon": "329.71693826 deg",
                                     "lat": "-30.2255 deg", "radius": "2 deg"})  # fmt: skip
    assert [i for i in catalog.select(cone)["obs_id"]] == sorted(int(i) for i in kept["OBS_ID"])
    assert catalog.left_out(cone).without_pointing == 12
    assert catalog.left_out(~sky_cone(0, 0, 1)).without_pointing == 12
    either = parse_where("cone(0, 0, 1) or obs_id < 3")
    assert catalog.left_out(either).without_pointing == 9  # OBS_ID 0-2 are kept by the other branch
    assert catalog.left_out(None).without_pointing == 0  # no cone: nothing to say
    result = cli(db_url, "select", "--cone", "329.71693826 -30.2255 2", "-f", "ids")
    assert result.exit_code == 0 and len(result.stdout.split()) == len(kept)
    assert result.stderr == ("Warning: the cone left out 12 observations without a sky pointing (RA_PNT/DEC_PNT "
                             "NULL, e.g. OBS_MODE DRIFT)\n")  # fmt: skip
    result = cli(db_url, "select", "--store", "swgo", "-f", "ids")
    assert result.exit_code == 0 and result.stderr == "" and len(result.stdout.split()) == 12



def test_time_range_reports_observations_without_times(catalog, db_url, swgo_dir, hess_dir):
    """The multi layout has no times anywhere: a time range leaves its 12 observations out, says
    how many, and keeps exactly Gammapy's time_box selection of the H.E.S.S. runs."""
    from astropy.time import Time
    from gammapy.data import DataStore

    from obscat.query import Not, TimeRange, parse_where

    catalog.ingest(hess_dir, name="hess")
    ingest_layout(catalog, swgo_dir, "multi", name="swgo")
    window = Time(["2004-12-01", "2005-01-01"], scale="utc")
    hess = DataStore.from_dir(hess_dir).obs_table
    kept = hess.select_observations({"type": "time_box", "time_range": window})
    box = TimeRange(window[0], window[1])
    assert [i for i in catalog.select(box)["obs_id"]] == sorted(int(i) for i in kept["OBS_ID"])
    assert catalog.left_out(box).without_times == 12
    assert catalog.left_out(Not(box)).without_times == 12
    assert catalog.left_out(parse_where("time('2004-12-01', '2005-01-01') or obs_id < 3")).without_times == 9
    assert catalog.left_out(None).without_times == 0  # no time range: nothing to say
    result = cli(db_url, "select", "--time-start", "2004-12-01", "--time-stop", "2005-01-01", "-f", "ids")
    assert result.exit_code == 0 and result.stdout.split() == [str(i) for i in sorted(kept["OBS_ID"])]
    assert result.stderr == ("Warning: the time range left out 12 observations without times (TSTART/TSTOP NULL: "
                             "none in the obs index, GTI or EVENTS header)\n")  # fmt: skip

def test_groups_export_of_drift_observations_opens_in_gammapy(catalog, db_url, swgo_dir, tmp_path):
    from gammapy.data import DataStore

    ingest_layout(catalog, swgo_dir, "multi")
    catalog.group_by("by-event-type", "event_type")
    result = cli(db_url, "groups", "export", "by-event-type", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    original = gammapy_store(swgo_dir, "multi")
    table = original.obs_table
    groups = sorted(p for p in (tmp_path / "out").iterdir() if p.is_dir())
    assert [p.name for p in groups] == sorted(f"event_type_{v}".replace(" ", "_") for v in set(table["EVENT_TYPE"]))
    for directory in groups:
        exported = DataStore.from_dir(directory)
        assert set(exported.obs_table.colnames) == {"OBS_ID", "OBS_MODE", "EVENT_TYPE", "IRF_NAME", "ALT_PNT", "AZ_PNT"}
        observations = exported.get_observations(required_irf="full-enclosure")
        assert len(observations) == 2
        for observation in observations:
            obs_id = int(observation.obs_id)
            row = table[table["OBS_ID"] == obs_id][0]
            assert exported.obs_table[exported.obs_table["OBS_ID"] == obs_id][0]["EVENT_TYPE"] == row["EVENT_TYPE"]
            for hdu_type in ("aeff", "edisp", "psf", "bkg", "gti", "events"):  # the same HDUs of the same files
                got, want = (store.hdu_table.hdu_location(obs_id, hdu_type) for store in (exported, original))
                assert (got.path(), got.hdu_name, got.hdu_class) == (want.path(), want.hdu_name, want.hdu_class)
    # and they load to the same objects (one observation: map IRFs take seconds to read)
    observation, reference = exported.obs(11), original.obs(11)
    np.testing.assert_array_equal(observation.aeff.data, reference.aeff.data)
    np.testing.assert_array_equal(observation.psf.psf_map.data, reference.psf.psf_map.data)
    np.testing.assert_array_equal(observation.edisp.edisp_map.data, reference.edisp.edisp_map.data)
    np.testing.assert_array_equal(observation.bkg.data, reference.bkg.data)


def swgo_obs_3_reasons(swgo_dir: Path) -> list[tuple[str, str]]:
    """(feature, null_reason) of SWGO observation 3: its maps are all zeros, or of class map."""
    irfs = swgo_dir / "map_irfs"
    edisp = f"{irfs / 'EdispGammaMap_Zen [30, 45] Cor [58, 82].fits.gz'} [EDISP]: the energy dispersion map is all zeros"
    return [
        ("aeff-max", f"{irfs / 'EffectiveExposureGammaMap_Zen [30, 45] Cor [58, 82].fits.gz'} [EFFECTIVE AREA]: map "
                     "IRF (HDU class map): obscat does not compute its features"),
        ("edisp-bias", edisp),
        ("edisp-res", edisp),
        ("psf-radius", f"{irfs / 'PSFMap_Zen [30, 45] Cor [58, 82].fits.gz'} [PSF]: the PSF map is all zeros"),
    ]  # fmt: skip


def test_map_irf_features_are_null_with_the_reason(catalog, swgo_dir):
    """The SWGO map IRFs are all-zero placeholders: Gammapy's get_irfs_features gives numbers
    without meaning for them (see docs/ground-arrays.md); obscat stores NULL and says why
    (and, for the map classes other than psf_map and edisp_kernel_map, that it does not evaluate them)."""
    from gammapy.data.utils import get_irfs_features

    ingest_layout(catalog, swgo_dir, "minimal")
    table = catalog.compute_features("1 TeV", fixed_offset=0.5 * u.deg,
                                     features=["psf-radius", "edisp-res", "edisp-bias", "aeff-max"])  # fmt: skip
    assert len(table) == 6
    for name in ("psf-radius", "edisp-res", "edisp-bias", "aeff-max"):
        assert table[name].mask.all()
    reasons = rows(catalog, "SELECT feature, null_reason FROM feature_value f JOIN observation o "
                            "ON o.id = f.observation_id WHERE o.obs_id = 3 ORDER BY feature")  # fmt: skip
    assert reasons == swgo_obs_3_reasons(swgo_dir)
    observation = gammapy_store(swgo_dir, "minimal").get_observations([3], required_irf="full-enclosure")
    assert observation[0].psf.psf_map.data.max() == 0 and observation[0].edisp.edisp_map.data.max() == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # Gammapy's 0/0 on the empty kernel
        gammapy = get_irfs_features(observation, energy_true=1 * u.TeV)
    assert gammapy["edisp-bias"][0] == -1 and np.isnan(gammapy["edisp-res"][0])
    rad = observation[0].psf.psf_map.geom.axes["rad"].edges
    first_point = ((rad[1] - rad[0]) / 40).to_value("deg")  # the first of its 20-per-bin midpoints
    assert gammapy["psf-radius"].quantity[0].to_value("deg").ravel()[0] == pytest.approx(first_point, rel=1e-12)


def test_cli_ingest_with_named_index_files(db_url, swgo_dir):
    obs_name, hdu_name = LAYOUTS["irf-name"]
    result = cli(db_url, "ingest", "--obs-index", str(swgo_dir / obs_name), "--hdu-index", str(swgo_dir / hdu_name),
                 "--name", "swgo")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("store 'swgo' created: 6 observations, 36 HDUs in 25 files in ")
    result = cli(db_url, "sql", "SELECT count(*) FROM observation WHERE irf_name = 'D9_Zen[45,52]Cor[58,82]'",
                 "--format", "csv")  # fmt: skip
    assert result.exit_code == 0 and result.stdout.splitlines()[-1] == "1"


def test_a_store_mixing_pointed_and_drift_observations(catalog, hess_dir, tmp_path):
    """With OBS_MODE, a row may lack both RA_PNT and DEC_PNT; without OBS_MODE it is refused."""
    from conftest import sky_cone
    from gammapy.data import DataStore

    from obscat.errors import InputError

    obs = Table.read(hess_dir / "obs-index.fits.gz")[:4]
    hdu = Table.read(hess_dir / "hdu-index.fits.gz")
    hdu = hdu[np.isin(hdu["OBS_ID"], obs["OBS_ID"])]
    hdu.meta["BASE_DIR"] = str(hess_dir)
    hdu.write(tmp_path / "hdu-index.fits.gz")
    ra, dec = float(obs["RA_PNT"][0]), float(obs["DEC_PNT"][0])
    obs["RA_PNT"][1] = obs["DEC_PNT"][1] = np.nan
    obs.write(tmp_path / "obs-index.fits.gz")
    with pytest.raises(InputError) as error:
        catalog.ingest(tmp_path, name="mixed")
    assert str(error.value) == f"{tmp_path / 'obs-index.fits.gz'}: row 2 (OBS_ID {obs['OBS_ID'][1]}): RA_PNT is nan"
    obs["OBS_MODE"] = ["POINTING", "DRIFT", "POINTING", "POINTING"]
    obs.write(tmp_path / "obs-index.fits.gz", overwrite=True)
    catalog.ingest(tmp_path, name="mixed")
    got = rows(catalog, "SELECT obs_id, obs_mode, ra_pnt_deg IS NULL, ux IS NULL, sky_zone IS NULL FROM observation "
                        "ORDER BY obs_id")  # fmt: skip
    assert [tuple(bool(v) if k > 1 else v for k, v in enumerate(r)) for r in got] == [
        (int(i), mode, k == 1, k == 1, k == 1) for k, (i, mode) in enumerate(zip(obs["OBS_ID"], obs["OBS_MODE"]))
    ]
    cone = sky_cone(ra, dec, 0.1)
    pointed = DataStore.from_dir(hess_dir).obs_table[[0, 2, 3]]
    kept = pointed.select_observations({"type": "sky_circle", "frame": "icrs", "lon": f"{ra} deg", "lat": f"{dec} deg",
                                        "radius": "0.1 deg"})  # fmt: skip
    assert [i for i in catalog.select(cone)["obs_id"]] == sorted(int(i) for i in kept["OBS_ID"])
    assert catalog.left_out(cone).without_pointing == 1


def test_sky_map_of_observations_without_pointing(catalog, swgo_dir, hess_dir):
    from obscat.errors import InputError
    from obscat.group.plot import sky_map

    ingest_layout(catalog, swgo_dir, "minimal", name="swgo")
    catalog.group_by("drift", "event_type")
    with pytest.raises(InputError) as error:
        sky_map(catalog.engine, "drift")
    assert str(error.value) == "grouping 'drift': none of its 6 observations has a sky pointing (RA_PNT/DEC_PNT)"
    catalog.ingest(hess_dir, name="hess")
    catalog.bins("all", "obs_id", edges=[0, 10**6])
    figure = sky_map(catalog.engine, "all")
    assert figure.axes[0].get_title() == "pointings of grouping 'all' (6 without a sky pointing)"


@pytest.fixture(scope="module")
def psf_map_store(tmp_path_factory, swgo_dir, hess_dir):
    """A DRIFT-mode store like SWGO's, whose PSF maps are real: Gammapy's make_psf_map of two
    H.E.S.S. runs' PSF3D (the SWGO maps are all zeros). Other IRFs are SWGO's own files."""
    from gammapy.data import DataStore
    from gammapy.makers.utils import make_psf_map
    from gammapy.maps import MapAxis, WcsGeom

    directory = tmp_path_factory.mktemp("psf-map-store")
    hess = DataStore.from_dir(hess_dir)
    energy = MapAxis.from_energy_bounds("0.3 TeV", "30 TeV", nbin=8, name="energy_true")
    rad = MapAxis.from_bounds(0, 0.66, nbin=66, unit="deg", name="rad")
    for obs_id, run, frame in ((1, 23523, "icrs"), (2, 47802, "galactic")):
        observation = hess.obs(run)
        pointing = observation.get_pointing_icrs(observation.tmid)
        geom = WcsGeom.create(skydir=pointing, width=(4, 3), binsz=0.5, frame=frame, proj="CAR", axes=[rad, energy])
        make_psf_map(observation.psf, pointing, geom).write(directory / f"PSF map {obs_id}.fits", format="gadf")
    obs = Table({"OBS_ID": [1, 2], "OBS_MODE": ["DRIFT", "DRIFT"], "ALT_PNT": [90.0, 90.0] * u.deg,
                 "AZ_PNT": [0.0, 0.0] * u.deg})  # fmt: skip
    obs.write(directory / "obs-index.fits.gz")
    irfs = str(swgo_dir / "map_irfs")
    rows = []
    for obs_id in (1, 2):
        rows += [(obs_id, "aeff", "map", irfs, "EffectiveExposureGammaMap_Zen [0, 30] Cor [0, 58].fits.gz", "EFFECTIVE AREA"),
                 (obs_id, "edisp", "edisp_kernel_map", irfs, "EdispGammaMap_Zen [0, 30] Cor [0, 58].fits.gz", "EDISP"),
                 (obs_id, "psf", "psf_map", str(directory), f"PSF map {obs_id}.fits", "PSF"),
                 (obs_id, "events", "events", irfs, "DummyEvents.fits.gz", "EVENTS")]  # fmt: skip
    Table(rows=rows, names=["OBS_ID", "HDU_TYPE", "HDU_CLASS", "FILE_DIR", "FILE_NAME", "HDU_NAME"]).write(
        directory / "hdu-index.fits.gz")
    return directory


def gammapy_psf_radius(directory, obs_id: int, energy, position, fraction: float) -> float:
    """psf-radius by Gammapy's get_irfs_features, one observation at a time (its default
    position, the map centre, would otherwise be the first map's for every observation)."""
    from gammapy.data import DataStore
    from gammapy.data.utils import get_irfs_features

    observations = DataStore.from_dir(directory).get_observations([obs_id], required_irf=["psf", "edisp"],
                                                                 require_events=False)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the SWGO edisp map is empty: 0/0 in its moments
        table = get_irfs_features(observations, energy_true=energy, position=position, names=["psf-radius"],
                                  containment_fraction=fraction)  # fmt: skip
    return float(np.ravel(table["psf-radius"].quantity[0].to_value("deg"))[0])


@pytest.mark.parametrize(("energy", "position", "fraction"), [
    ("1 TeV", None, 0.68), ("0.5 TeV", None, 0.68), ("7.3 TeV", None, 0.95),
    ("1 TeV", (84.2, 22.3), 0.68), ("2 TeV", (82.5, 21.1), 0.68), ("1 TeV", (83.6, 23.3), 0.68),
])  # fmt: skip
def test_psf_map_radius_against_gammapy(catalog, psf_map_store, energy, position, fraction):
    from astropy.coordinates import SkyCoord

    catalog.ingest(psf_map_store, name="maps")
    sky = None if position is None else SkyCoord(*position, unit="deg", frame="icrs")
    table = catalog.compute_features(energy, position=sky, features=["psf-radius", "edisp-res"],
                                     containment_fraction=fraction)  # fmt: skip
    for k, obs_id in enumerate((1, 2)):
        reference = gammapy_psf_radius(psf_map_store, obs_id, u.Quantity(energy), sky, fraction)
        got = table["psf-radius"][k]
        if position == (83.6, 23.3) or (position is not None and obs_id == 2):  # outside the map
            assert got is np.ma.masked  # Gammapy's containment is zero there: it returns its first rad point
            assert reference == pytest.approx(0.00025)
        else:
            assert got == pytest.approx(reference, rel=1e-12, abs=1e-12)
    assert table["edisp-res"].mask.all()


@pytest.fixture(scope="module")
def edisp_map_store(tmp_path_factory, hess_dir):
    """A DRIFT-mode store whose energy dispersion kernel maps are real: Gammapy's make_edisp_kernel_map
    of two H.E.S.S. runs' EnergyDispersion2D (the SWGO maps are all zeros). Each map is shifted from
    its PSF map, so the default position (the PSF map's centre) is not the kernel map's centre.
    Run 2's map is float32 and empty east of its 6th column, so the nearest valid pixel matters;
    observation 3 has no PSF map (its default is its kernel map's own centre)."""
    from gammapy.data import DataStore
    from gammapy.makers.utils import make_edisp_kernel_map, make_psf_map
    from gammapy.maps import MapAxis, WcsGeom

    directory = tmp_path_factory.mktemp("edisp-map-store")
    hess = DataStore.from_dir(hess_dir)
    energy_true = MapAxis.from_energy_bounds("0.3 TeV", "30 TeV", nbin=12, name="energy_true")
    energy = MapAxis.from_energy_bounds("0.2 TeV", "50 TeV", nbin=20, name="energy")
    rad = MapAxis.from_bounds(0, 0.66, nbin=66, unit="deg", name="rad")
    rows = []
    for obs_id, run, frame in ((1, 23523, "icrs"), (2, 47802, "galactic"), (3, 23526, "icrs")):
        observation = hess.obs(run)
        pointing = observation.get_pointing_icrs(observation.tmid)
        shifted = pointing.directional_offset_by(45 * u.deg, 0.7 * u.deg)
        geom = WcsGeom.create(skydir=shifted, width=(5, 4), binsz=0.5, frame=frame, proj="CAR",
                              axes=[energy, energy_true])  # fmt: skip
        kernel = make_edisp_kernel_map(observation.edisp, pointing, geom)
        if obs_id == 2:
            kernel.edisp_map.data = kernel.edisp_map.data.astype(np.float32)
            kernel.edisp_map.data[..., 6:] = 0
        kernel.write(directory / f"EDISP map {obs_id}.fits", format="gadf")
        rows.append((obs_id, "edisp", "edisp_kernel_map", str(directory), f"EDISP map {obs_id}.fits", "EDISP"))
        if obs_id != 3:
            geom = WcsGeom.create(skydir=pointing, width=(4, 3), binsz=0.5, frame=frame, proj="CAR", axes=[rad, energy_true])
            make_psf_map(observation.psf, pointing, geom).write(directory / f"PSF map {obs_id}.fits", format="gadf")
            rows.append((obs_id, "psf", "psf_map", str(directory), f"PSF map {obs_id}.fits", "PSF"))
    obs = Table({"OBS_ID": [1, 2, 3], "OBS_MODE": ["DRIFT"] * 3, "ALT_PNT": [90.0] * 3 * u.deg, "AZ_PNT": [0.0] * 3 * u.deg})
    obs.write(directory / "obs-index.fits.gz")
    Table(rows=rows, names=["OBS_ID", "HDU_TYPE", "HDU_CLASS", "FILE_DIR", "FILE_NAME", "HDU_NAME"]).write(
        directory / "hdu-index.fits.gz")
    return directory


def gammapy_edisp_features(directory, obs_ids, energy, position) -> list[tuple[float, float]]:
    """(edisp-res, edisp-bias) by Gammapy's get_irfs_features of the observations together; an
    observation without a PSF map by EDispKernelMap.get_edisp_kernel (what get_irfs_features needs)."""
    from gammapy.data import DataStore
    from gammapy.data.utils import get_irfs_features
    from gammapy.irf import EDispKernelMap

    if obs_ids == [3]:
        kernel = EDispKernelMap.read(directory / "EDISP map 3.fits").get_edisp_kernel(position=position)
        return [(float(kernel.get_resolution(energy)[0]), float(kernel.get_bias(energy)[0]))]
    observations = DataStore.from_dir(directory).get_observations(obs_ids, required_irf=["psf", "edisp"],
                                                                 require_events=False)  # fmt: skip
    table = get_irfs_features(observations, energy_true=energy, position=position, names=["edisp-res", "edisp-bias"])
    return [(float(row["edisp-res"]), float(row["edisp-bias"])) for row in table]


@pytest.mark.parametrize("position", [None, (84.2, 22.3), (83.2, 22.6), (329.7, -30.2)])
def test_edisp_kernel_map_features_against_gammapy(catalog, edisp_map_store, position):
    """edisp-res and edisp-bias of kernel maps equal Gammapy's to the last bit, at energies inside bins,
    on the edges Gammapy's axis gives and on the first edge, at the default position (the PSF map's
    centre), inside a map, outside it and in the empty part of run 2's map (nearest valid pixel)."""
    from astropy.coordinates import SkyCoord
    from gammapy.maps import MapAxis

    edges = MapAxis.from_energy_bounds("0.3 TeV", "30 TeV", nbin=12, name="energy_true").edges
    energies = [1 * u.TeV, 0.5 * u.TeV, 7.3 * u.TeV, edges[0], edges[4], edges[9]]
    catalog.ingest(edisp_map_store, name="maps")
    sky = None if position is None else SkyCoord(*position, unit="deg", frame="icrs")
    worst = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for energy in energies:
            table = catalog.compute_features(energy, position=sky, features=["edisp-res", "edisp-bias"])
            assert list(table["obs_id"]) == [1, 2, 3]
            stored = rows(catalog, "SELECT o.obs_id, v.feature, v.value, v.null_reason, v.offset_deg FROM feature_value v "
                                   "JOIN observation o ON o.id = v.observation_id JOIN feature_set s ON s.id = "
                                   "v.feature_set_id WHERE s.energy_true_tev = :e ORDER BY o.obs_id, v.feature",
                          e=energy.to_value("TeV"))  # fmt: skip
            for k, obs_id in enumerate((1, 2, 3)):
                res, bias = gammapy_edisp_features(edisp_map_store, [obs_id], energy, sky)[0]
                assert (table["edisp-res"][k], table["edisp-bias"][k]) == (res, bias), (energy, obs_id)
                assert stored[2 * k:2 * k + 2] == [(obs_id, "edisp-bias", bias, None, None),
                                                   (obs_id, "edisp-res", res, None, None)]  # fmt: skip
                worst = max(worst, abs(table["edisp-res"][k] / res - 1), abs(table["edisp-bias"][k] / bias - 1))
    assert worst == 0.0


def test_edisp_kernel_map_default_position_quirk_and_range(catalog, edisp_map_store):
    """Gammapy reuses the first observation's PSF map centre for the later ones; obscat takes each
    observation's own. Outside the true-energy range obscat stores NULL with the reason, where
    Gammapy reads the last kernel row (below the range) or fails (on the last edge)."""
    from gammapy.irf import EDispKernelMap

    catalog.ingest(edisp_map_store, name="maps")
    table = catalog.compute_features(1 * u.TeV, features=["edisp-res", "edisp-bias"])
    together = gammapy_edisp_features(edisp_map_store, [1, 2], 1 * u.TeV, None)
    alone = gammapy_edisp_features(edisp_map_store, [2], 1 * u.TeV, None)[0]
    assert (table["edisp-res"][1], table["edisp-bias"][1]) == alone != together[1]
    assert (table["edisp-res"][0], table["edisp-bias"][0]) == together[0]

    table = catalog.compute_features(0.2 * u.TeV, features=["edisp-res", "edisp-bias"])
    assert table["edisp-res"].mask.all() and table["edisp-bias"].mask.all()
    reasons = rows(catalog, "SELECT DISTINCT v.null_reason FROM feature_value v JOIN feature_set s "
                            "ON s.id = v.feature_set_id WHERE s.energy_true_tev = 0.2 AND v.observation_id = "
                            "(SELECT id FROM observation WHERE obs_id = 1)")  # fmt: skip
    assert reasons == [(f"{edisp_map_store / 'EDISP map 1.fits'} [EDISP]: true energy 0.2 TeV is outside the map's "
                        "range [0.3, 30) TeV",)]  # fmt: skip
    kernel = EDispKernelMap.read(edisp_map_store / "EDISP map 1.fits").get_edisp_kernel()
    assert kernel.get_bias(0.2 * u.TeV)[0] == kernel.get_bias(29 * u.TeV)[0]  # the last row
    last_edge = kernel.axes["energy_true"].edges[-1]  # 30.000000000000004 TeV, as MapAxis rebuilds it
    with pytest.raises(IndexError):
        kernel.get_bias(last_edge)
    table = catalog.compute_features(last_edge, features=["edisp-res", "edisp-bias"])
    assert table["edisp-res"].mask.all() and table["edisp-bias"].mask.all()


def test_edisp_map_features_are_null_as_gammapy_cannot_evaluate_them(catalog, tmp_path, hess_dir):
    """An ``edisp_map`` (migration map) has no reco-energy axis: Gammapy 2.1's get_irfs_features fails
    on it with or without a position; obscat stores NULL with that reason (not a pointing reason, even
    with a position for a drift observation) and still computes the PSF map's radius."""
    from astropy.coordinates import SkyCoord
    from gammapy.data import DataStore
    from gammapy.data.utils import get_irfs_features
    from gammapy.makers.utils import make_edisp_map, make_psf_map
    from gammapy.maps import MapAxis, WcsGeom

    observation = DataStore.from_dir(hess_dir).obs(23523)
    pointing = observation.get_pointing_icrs(observation.tmid)
    energy_true = MapAxis.from_energy_bounds("0.3 TeV", "30 TeV", nbin=12, name="energy_true")
    rad = MapAxis.from_bounds(0, 0.66, nbin=66, unit="deg", name="rad")
    image = WcsGeom.create(skydir=pointing, width=(4, 3), binsz=0.5, frame="icrs", proj="CAR")
    make_edisp_map(observation.edisp, pointing, image.to_cube([observation.edisp.axes["migra"], energy_true])).write(
        tmp_path / "edisp.fits", format="gadf")
    make_psf_map(observation.psf, pointing, image.to_cube([rad, energy_true])).write(tmp_path / "psf.fits", format="gadf")
    Table({"OBS_ID": [1], "OBS_MODE": ["DRIFT"], "ALT_PNT": [90.0] * u.deg, "AZ_PNT": [0.0] * u.deg}).write(
        tmp_path / "obs-index.fits.gz")
    Table(rows=[(1, "edisp", "edisp_map", str(tmp_path), "edisp.fits", "EDISP"),
                (1, "psf", "psf_map", str(tmp_path), "psf.fits", "PSF")],
          names=["OBS_ID", "HDU_TYPE", "HDU_CLASS", "FILE_DIR", "FILE_NAME", "HDU_NAME"]).write(tmp_path / "hdu-index.fits.gz")  # fmt: skip
    observations = DataStore.from_dir(tmp_path).get_observations([1], required_irf=["psf", "edisp"], require_events=False)
    with pytest.raises(AttributeError, match="'EDispMap' object has no attribute 'to_edisp_kernel'"):
        get_irfs_features(observations, energy_true=1 * u.TeV, names=["edisp-res"])
    with pytest.raises(AttributeError, match="'PSFMap' object has no attribute 'axes'"):
        get_irfs_features(observations, energy_true=1 * u.TeV, position=pointing, names=["edisp-res"])

    catalog.ingest(tmp_path, name="migra")
    reason = (f"{tmp_path / 'edisp.fits'} [EDISP]: map IRF (HDU class edisp_map): Gammapy 2.1's get_irfs_features "
              "cannot evaluate it (EDispMap has no reco-energy axis nor to_edisp_kernel), so neither does obscat")  # fmt: skip
    for position in (None, SkyCoord(pointing.ra, pointing.dec)):
        table = catalog.compute_features(1 * u.TeV, position=position, features=["edisp-res", "edisp-bias", "psf-radius"])
        assert table["edisp-res"].mask.all() and table["edisp-bias"].mask.all() and not np.ma.getmaskarray(table["psf-radius"]).any()
    assert rows(catalog, "SELECT DISTINCT feature, null_reason FROM feature_value WHERE feature LIKE 'edisp%' "
                         "ORDER BY feature") == [("edisp-bias", reason), ("edisp-res", reason)]  # fmt: skip


def test_drift_observations_with_a_position_get_the_map_reason(catalog, db_url, swgo_dir):
    """With --position, the edisp and aeff features of drift observations say what their map is,
    not that the events header has no pointing (a map IRF needs no pointing)."""
    obs_name, hdu_name = LAYOUTS["minimal"]
    assert cli(db_url, "ingest", "--obs-index", str(swgo_dir / obs_name), "--hdu-index", str(swgo_dir / hdu_name),
               "--name", "swgo").exit_code == 0  # fmt: skip
    result = cli(db_url, "features", "compute", "-e", "1 TeV", "--position", "83.6 22.0", "--obs-id", "3",
                 "-F", "edisp-res", "-F", "edisp-bias", "-F", "aeff-max", "-F", "psf-radius")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert rows(catalog, "SELECT feature, null_reason FROM feature_value ORDER BY feature") == swgo_obs_3_reasons(swgo_dir)


@pytest.mark.parametrize(("damage", "reason"), [
    ("axes", "band axis 1 is ENERGY_TRUE_MIN,ENERGY_TRUE_MAX, not energy (E_MIN,E_MAX)"),
    ("bands", "not a GADF energy dispersion kernel map (\"Extension 'EDISP_BANDS' not found.\")"),
    ("shape", "energy dispersion kernel map of shape (6, 20, 8, 10) does not match its bands (energy_true 12, "
              "energy 20, lat, lon expected)"),
])  # fmt: skip
def test_a_damaged_kernel_map_is_null_with_the_reason(catalog, edisp_map_store, tmp_path, damage, reason):
    with fits.open(edisp_map_store / "EDISP map 1.fits") as hdul:
        if damage == "axes":
            hdul["EDISP_BANDS"].header["AXCOLS1"], hdul["EDISP_BANDS"].header["AXCOLS2"] = (
                hdul["EDISP_BANDS"].header["AXCOLS2"], hdul["EDISP_BANDS"].header["AXCOLS1"])  # fmt: skip
        elif damage == "bands":
            del hdul["EDISP_BANDS"]
            del hdul["EDISP"].header["BANDSHDU"]
        else:
            hdul["EDISP"].data = hdul["EDISP"].data[:6].copy()
        hdul.writeto(tmp_path / "damaged.fits")
    Table({"OBS_ID": [1], "OBS_MODE": ["DRIFT"], "ALT_PNT": [90.0] * u.deg, "AZ_PNT": [0.0] * u.deg}).write(
        tmp_path / "obs-index.fits.gz")
    Table(rows=[(1, "edisp", "edisp_kernel_map", str(tmp_path), "damaged.fits", "EDISP")],
          names=["OBS_ID", "HDU_TYPE", "HDU_CLASS", "FILE_DIR", "FILE_NAME", "HDU_NAME"]).write(tmp_path / "hdu-index.fits.gz")  # fmt: skip
    catalog.ingest(tmp_path, name="damaged")
    table = catalog.compute_features(1 * u.TeV, features=["edisp-res"])
    assert table["edisp-res"].mask.all()
    assert rows(catalog, "SELECT null_reason FROM feature_value") == [(f"{tmp_path / 'damaged.fits'} [EDISP]: {reason}",)]
