"""IVOA ObsCore (with the High-Energy extension): the views of revision 0014, ``Catalog.obscore`` and
``obscat obscore export``, on both backends, against the catalogue, astropy and Gammapy."""

from __future__ import annotations

import math
from pathlib import Path
from urllib.parse import unquote, urlparse

import astropy.units as u
import numpy as np
import pytest
from astropy import constants
from astropy.io.votable import parse
from astropy.table import Table
from conftest import snapshot
from typer.testing import CliRunner

from obscat.cli.app import app

#: ObsCore 1.1 (REC-ObsCore-v1.1, 2017-05-09), table 6, typed here from the standard independently of
#: obscat/store/obscore.py: (column, unit, UCD), the mandatory columns in the standard's order.
OBSCORE_1_1 = [
    ("dataproduct_type", None, "meta.code.class"),
    ("calib_level", None, "meta.code;obs.calib"),
    ("obs_collection", None, "meta.id"),
    ("obs_id", None, "meta.id"),
    ("obs_publisher_did", None, "meta.ref.ivoid"),
    ("access_url", None, "meta.ref.url"),
    ("access_format", None, "meta.code.mime"),
    ("access_estsize", "kbyte", "phys.size;meta.file"),
    ("target_name", None, "meta.id;src"),
    ("s_ra", "deg", "pos.eq.ra"),
    ("s_dec", "deg", "pos.eq.dec"),
    ("s_fov", "deg", "phys.angSize;instr.fov"),
    ("s_region", "deg", "pos.outline;obs.field"),
    ("s_resolution", "arcsec", "pos.angResolution"),
    ("s_xel1", None, "meta.number"),
    ("s_xel2", None, "meta.number"),
    ("t_min", "d", "time.start;obs.exposure"),
    ("t_max", "d", "time.end;obs.exposure"),
    ("t_exptime", "s", "time.duration;obs.exposure"),
    ("t_resolution", "s", "time.resolution"),
    ("t_xel", None, "meta.number"),
    ("em_min", "m", "em.wl;stat.min"),
    ("em_max", "m", "em.wl;stat.max"),
    ("em_res_power", None, "spect.resolution"),
    ("em_xel", None, "meta.number"),
    ("o_ucd", None, "meta.ucd"),
    ("pol_states", None, "meta.code;phys.polarization"),
    ("pol_xel", None, "meta.number"),
    ("facility_name", None, "meta.id;instr.tel"),
    ("instrument_name", None, "meta.id;instr"),
]
#: The types ObsCore 1.1's table 6 gives them (s_region, a DALI circle here, is checked apart).
OBSCORE_1_1_TYPES = {
    **dict.fromkeys(["dataproduct_type", "obs_collection", "obs_id", "obs_publisher_did", "access_url", "access_format",
                     "target_name", "o_ucd", "pol_states", "facility_name", "instrument_name"], "string"),
    **dict.fromkeys(["calib_level", "access_estsize", "s_xel1", "s_xel2", "t_xel", "em_xel", "pol_xel"], "integer"),
    **dict.fromkeys(["s_ra", "s_dec", "s_fov", "s_resolution", "t_min", "t_max", "t_exptime", "t_resolution", "em_min",
                     "em_max", "em_res_power"], "double"),
}  # fmt: skip
#: VOTable datatypes of each of those types.
VOTABLE_TYPES = {"string": {"char", "unicodeChar"}, "integer": {"short", "int", "long"}, "double": {"double"}}
#: The High-Energy extension's columns (IVOA Note, table "Attributes for the HEA Extension of ObsCore",
#: with tracking_mode and the messenger columns the issue asks for): (column, unit).
HEA = [("ev_xel", None), ("energy_min", "eV"), ("energy_max", "eV"), ("s_ref_energy", "eV"), ("em_ref_energy", "eV"),
       ("s_ref_oaa", "deg"), ("em_ref_oaa", "deg"), ("t_intervals", "d"), ("tracking_mode", None),
       ("pointing_mode", None), ("obs_mode", None), ("event_type", None), ("messenger_name", None),
       ("messenger_pdgid", None)]  # fmt: skip
GADF = [("obs_id", None), ("ra_pnt", "deg"), ("dec_pnt", "deg"), ("tstart", "s"), ("tstop", "s")]
HC = constants.h * constants.c


def _unit(column) -> str | None:
    return None if column.unit is None else column.unit.to_string()


def _features(cat) -> str:
    """psf-radius, edisp-res and energy-threshold at 1 TeV and 0.5 deg: the feature set's name."""
    table = cat.compute_features("1 TeV", features=["psf-radius", "edisp-res", "energy-threshold"],
                                 fixed_offset=0.5 * u.deg, store="hess", workers=1)  # fmt: skip
    return table.meta["feature_set"]


def test_columns_units_and_ucds_are_obscore_1_1_and_the_hea_extension(hess):
    table = hess.obscore()
    assert table.colnames[: len(OBSCORE_1_1)] == [name for name, _, _ in OBSCORE_1_1]
    assert [(n, _unit(table[n]), table[n].meta["ucd"]) for n, _, _ in OBSCORE_1_1] == OBSCORE_1_1
    assert [(n, _unit(table[n])) for n, _ in HEA + GADF] == HEA + GADF
    assert all(table[n].meta["ucd"] for n in table.colnames)
    assert len(table) == 105 and len(set(table["obs_publisher_did"])) == 105
    assert set(table["dataproduct_type"]) == {"event"} and set(table["calib_level"]) == {2}
    assert set(table["messenger_name"]) == {"photon"} and set(table["messenger_pdgid"]) == {22}
    # without a feature set, what it would give is NULL; without --fov, s_fov and s_region
    for name in ("s_resolution", "em_res_power", "s_ref_energy", "s_ref_oaa", "s_fov"):
        assert np.ma.getmaskarray(table[name]).all(), name
    assert [len(v) for v in table["t_intervals"]] == [0] * 105  # no `obscat pointing` yet: no GTI
    assert np.ma.getmaskarray(table["s_region"]).all()


def test_values_round_trip_against_the_catalogue(hess, hess_dir):
    name = _features(hess)
    table = hess.obscore(name, authority="example.org", access_url="https://data.example.org/hess-dr1/",
                         collection="HESS-DR1", fov=5 * u.deg)  # fmt: skip
    obs = hess.observations(store="hess")
    obs.sort("obs_id")
    assert table["obs_id"].tolist() == [str(i) for i in obs["obs_id"]]  # text, as ObsCore types it
    np.testing.assert_array_equal(table["s_ra"], obs["ra_pnt_deg"])
    np.testing.assert_array_equal(table["s_dec"], obs["dec_pnt_deg"])
    np.testing.assert_array_equal(table["ra_pnt"], obs["ra_pnt_deg"])
    np.testing.assert_array_equal(table["t_min"], obs["tstart_mjd"])
    np.testing.assert_array_equal(table["t_max"], obs["tstop_mjd"])
    np.testing.assert_array_equal(table["tstart"], obs["tstart_s"])
    np.testing.assert_array_equal(table["t_exptime"], obs["livetime_s"])
    np.testing.assert_array_equal(table["ev_xel"], obs["event_count"])
    assert table["target_name"].tolist() == obs["object"].tolist()
    # energies: the obs index's safe range, in eV; wavelengths h c / E, em_min from the highest energy
    energy_min = obs["safe_energy_lo_tev"].quantity.to(u.eV)
    energy_max = obs["safe_energy_hi_tev"].quantity.to(u.eV)
    np.testing.assert_allclose(table["energy_min"], energy_min.value, rtol=1e-15)
    np.testing.assert_allclose(table["energy_max"], energy_max.value, rtol=1e-15)
    np.testing.assert_allclose(table["em_min"], energy_max.to_value(u.m, equivalencies=u.spectral()), rtol=1e-14)
    np.testing.assert_allclose(table["em_max"], (HC / energy_min).to_value(u.m), rtol=1e-14)
    assert not np.ma.getmaskarray(table["em_min"]).any() and (table["em_min"] < table["em_max"]).all()
    # the feature set: psf-radius in arcsec, 1 / edisp-res, its energy and offset
    features = hess.feature_set(name)
    features.sort("obs_id")
    np.testing.assert_allclose(table["s_resolution"], features["psf-radius"].quantity.to_value(u.arcsec), rtol=1e-14)
    np.testing.assert_allclose(table["em_res_power"], 1 / features["edisp-res"], rtol=1e-14)
    assert set(table["s_ref_energy"]) == set(table["em_ref_energy"]) == {1e12}
    assert set(table["s_ref_oaa"]) == set(table["em_ref_oaa"]) == {0.5}
    # the publisher's settings
    assert table["obs_publisher_did"][0] == f"ivo://example.org/hess?{table['obs_id'][0]}"
    assert set(table["obs_collection"]) == {"HESS-DR1"}
    assert set(table["s_fov"]) == {5.0}
    assert table["s_region"].tolist()[0] == [table["s_ra"][0], table["s_dec"][0], 2.5]
    events = dict(hess.sql("SELECT obs_id, path FROM hdu_location WHERE store = 'hess' AND hdu_type = 'events'")
                  .iterrows())  # fmt: skip
    root = Path(hess_dir).resolve()
    for row in table[:5]:
        path = Path(events[int(row["obs_id"])])
        assert row["access_url"] == "https://data.example.org/hess-dr1/" + path.relative_to(root).as_posix()
        assert row["access_estsize"] == math.ceil(path.stat().st_size / 1000)


def test_the_feature_set_energy_threshold_fills_energy_min_where_the_index_has_no_safe_range(catalog, magic_dir):
    catalog.ingest(magic_dir, name="magic")
    name = catalog.compute_features("1 TeV", features=["energy-threshold"], fixed_offset=0.4 * u.deg, store="magic",
                                    workers=1).meta["feature_set"]  # point-like IRFs of one offset bin, at 0.4 deg
    table = catalog.obscore(name)
    threshold = catalog.feature_set(name)["energy-threshold"].quantity
    np.testing.assert_allclose(table["energy_min"], threshold.to_value(u.eV), rtol=1e-15)
    np.testing.assert_allclose(table["em_max"], (HC / threshold).to_value(u.m), rtol=1e-14)
    assert np.ma.getmaskarray(table["energy_max"]).all() and np.ma.getmaskarray(table["em_min"]).all()  # no SAFE_ENERGY_HI: no upper bound


def test_views_in_plain_sql(hess):
    name = _features(hess)
    rows = hess.sql("SELECT c.obs_id, c.obs_publisher_did, c.em_min, c.em_max, h.energy_min, h.energy_max, h.ev_xel, "
                    "h.tracking_mode, f.s_resolution, f.em_res_power, f.s_ref_oaa "
                    "FROM obscore c JOIN obscore_hea h ON h.obs_publisher_did = c.obs_publisher_did "
                    "JOIN obscore_feature_set f ON f.observation_id = c.observation_id "
                    "WHERE f.feature_set = :fs ORDER BY c.obs_id", {"fs": name})  # fmt: skip
    table = hess.obscore(name)
    assert len(rows) == 105 and rows["obs_id"].tolist() == table["obs_id"].tolist()
    assert rows["obs_publisher_did"][0] == f"ivo://obscat.invalid/hess?{rows['obs_id'][0]}"
    # wavelengths computed in SQL from the exact h, c, e: astropy's h c / E to the last digits
    np.testing.assert_allclose(rows["em_min"], (HC / (rows["energy_max"] * u.eV)).to_value(u.m), rtol=1e-15)
    np.testing.assert_allclose(rows["em_max"], table["em_max"], rtol=1e-15)
    for column in ("ev_xel", "energy_min", "s_resolution", "em_res_power", "s_ref_oaa"):
        np.testing.assert_allclose(np.asarray(rows[column], dtype=float), np.asarray(table[column], dtype=float),
                                   rtol=1e-14, err_msg=column)  # fmt: skip
    assert set(rows["tracking_mode"]) == {"sidereal"}  # HESS DR1 has no OBS_MODE: tracking a sky position


def test_export_votable_parses_with_units_and_ucds(hess, tmp_path):
    runner = CliRunner()
    out = tmp_path / "obscore.xml"
    result = runner.invoke(app, ["--db", hess.url, "obscore", "export", "-o", str(out), "--fov", "5 deg",
                                 "--authority", "example.org"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {out}\n"
    votable = parse(out).get_first_table()
    fields = {f.name: f for f in votable.fields}
    for name, unit, ucd in OBSCORE_1_1:
        assert (fields[name].ucd, None if fields[name].unit is None else fields[name].unit.to_string()) == (ucd, unit)
    assert (fields["s_region"].xtype, fields["s_region"].arraysize) == ("circle", "3")
    assert {name: kind for name, kind in OBSCORE_1_1_TYPES.items()
            if fields[name].datatype not in VOTABLE_TYPES[kind]} == {}  # fmt: skip
    rows = votable.to_table()
    table = hess.obscore(authority="example.org", fov="5 deg")
    assert len(rows) == 105 and rows["obs_publisher_did"].tolist() == table["obs_publisher_did"].tolist()
    np.testing.assert_array_equal(rows["em_min"], table["em_min"])
    for fmt in ("csv", "ecsv", "fits"):
        path = tmp_path / f"obscore.{fmt}"
        args = ["--db", hess.url, "obscore", "export", "-o", str(path), "-f", fmt, "--fov", "5 deg", "--authority", "example.org"]
        assert runner.invoke(app, args).exit_code == 0
        back = Table.read(path, format="ascii.csv" if fmt == "csv" else None)
        assert [str(i) for i in back["obs_id"]] == table["obs_id"].tolist(), fmt  # CSV reads digits as integers
        assert back["obs_publisher_did"].tolist() == table["obs_publisher_did"].tolist(), fmt
        if fmt == "csv":  # DALI text: "ra dec radius"
            assert [list(map(float, r.split())) for r in back["s_region"]] == table["s_region"].tolist()
        else:
            assert back["em_min"].unit == u.m and back["energy_min"].unit == u.eV, fmt
            assert back["s_region"].tolist() == table["s_region"].tolist(), fmt
        if fmt == "fits":
            from astropy.io import fits

            header = fits.getheader(path, 1)
            assert [(header[f"TTYPE{i}"], header[f"TUCD{i}"]) for i in range(1, 31)] == [(n, c) for n, _, c in OBSCORE_1_1]


def test_the_gadf_columns_match_the_events_files_gammapy_opens(hess):
    from gammapy.data import DataStore

    table = hess.obscore()
    crab = table[table["target_name"] == "Crab Nebula"]
    paths = [unquote(urlparse(url).path) for url in crab["access_url"]]
    obs_table = DataStore.from_events_files(paths).obs_table
    assert obs_table["OBS_ID"].tolist() == [int(i) for i in crab["obs_id"]]
    for name in ("ra_pnt", "dec_pnt", "tstart", "tstop"):  # the index holds float32 copies of the headers
        np.testing.assert_allclose(crab[name], obs_table[name.upper()], rtol=1e-7, err_msg=name)


@pytest.mark.parametrize(("args", "error"), [
    (["--feature-set", "fs-nope"], "Error: --feature-set fs-nope: no such feature set in the catalogue\n"),
    (["--store", "nope"], "Error: --store nope: no such store in the catalogue\n"),
    (["--authority", "ivo://example.org"],
     "Error: --authority ivo://example.org is not an IVOA authority ID (e.g. 'example.org', no 'ivo://')\n"),
    (["--access-url", "data/"], "Error: --access-url data/ is not a base URL (e.g. 'https://example.org/data/')\n"),
    (["--fov", "5 m"], "Error: --fov 5 m is not an angle (e.g. '5 deg')\n"),
    (["--fov", "-1 deg"], "Error: --fov -1 deg must be an angle in (0, 360] deg\n"),
    (["--object", "Nothing*"], "Error: the selection holds no observation\n"),
])  # fmt: skip
def test_bad_flags_are_one_line_errors_and_write_nothing(hess, tmp_path, args, error):
    out = tmp_path / "obscore.xml"
    before = snapshot(hess.url)
    result = CliRunner().invoke(app, ["--db", hess.url, "obscore", "export", "-o", str(out), *args])
    assert (result.exit_code, result.stderr) == (1, error)
    assert not out.exists() and snapshot(hess.url) == before


def test_selection_flags_export_the_rows_select_keeps(hess, tmp_path):
    """`obscore export` with selection flags writes the rows `select` keeps, each equal to its row of
    the whole table (t_intervals included); `Catalog.obscore(selection=...)` the same."""
    hess.compute_pointing()
    flags = ["--cone", "83.63 22.01 3", "--range", "zen_pnt_deg 40 60"]
    out = tmp_path / "obscore.ecsv"
    runner = CliRunner()
    result = runner.invoke(app, ["--db", hess.url, "obscore", "export", "-o", str(out), "-f", "ecsv", *flags])
    assert result.exit_code == 0, result.output
    kept = sorted(int(i) for i in runner.invoke(app, ["--db", hess.url, "select", "-f", "ids", *flags]).stdout.split())
    written, whole = Table.read(out), hess.obscore()
    assert written["obs_id"].tolist() == [str(i) for i in kept] and 0 < len(kept) < len(whole)
    from obscat.query import Ids

    chosen = hess.obscore(selection=Ids(kept[:2]))
    for table in (written, chosen):
        for row in table:
            full = whole[whole["obs_id"] == row["obs_id"]][0]
            assert len(row["t_intervals"]) == 2 and list(row["t_intervals"]) == list(full["t_intervals"])
            for name in ("obs_publisher_did", "access_url", "s_ra", "t_min", "em_min", "ev_xel", "tstart"):
                assert row[name] == full[name], name
    assert chosen["obs_id"].tolist() == [str(i) for i in kept[:2]]


def test_field_of_view_and_base_url_per_store(hess, magic_dir, tmp_path):
    """`--fov STORE=ANGLE` and `--access-url STORE=URL` (repeatable; a value without STORE for the
    other stores) give each store its own s_fov, s_region and access_url; `Catalog.obscore` takes
    the same as mappings; an unknown store or a bad value is a one-line error naming it."""
    hess.ingest(magic_dir, name="magic")
    out = tmp_path / "obscore.ecsv"
    args = ["--fov", "magic=3.5 deg", "--fov", "5 deg", "--access-url", "https://data.example.org/hess/",
            "--access-url", "magic=https://magic.example.org/dl3?run="]
    result = CliRunner().invoke(app, ["--db", hess.url, "obscore", "export", "-f", "ecsv", "-o", str(out), *args])
    assert result.exit_code == 0, result.output
    table = Table.read(out)
    python = hess.obscore(fov={"magic": 3.5 * u.deg, None: "5 deg"},
                          access_url={None: "https://data.example.org/hess/", "magic": "https://magic.example.org/dl3?run="})
    for written in (table, python):
        by_store = {s: written[written["obs_collection"] == s] for s in ("hess", "magic")}
        assert (len(by_store["hess"]), len(by_store["magic"])) == (105, 2)
        assert set(by_store["hess"]["s_fov"]) == {5.0} and set(by_store["magic"]["s_fov"]) == {3.5}
        assert set(np.asarray(by_store["magic"]["s_region"])[:, 2]) == {1.75}
        assert by_store["hess"]["access_url"][0] == "https://data.example.org/hess/data/hess_dl3_dr1_obs_id_020136.fits.gz"
        assert by_store["magic"]["access_url"][0] == \
               "https://magic.example.org/dl3?run=/20131004_05029747_DL3_CrabNebula-W0.40%2B035.fits"
    only_magic = hess.obscore(fov={"magic": "3.5 deg"})
    assert np.ma.getmaskarray(only_magic["s_fov"][only_magic["obs_collection"] == "hess"]).all()
    for args, error in ((["--fov", "lst=4 deg"], "Error: --fov names 'lst': no such store in the catalogue\n"),
                        (["--fov", "magic=3 m"], "Error: --fov of store 'magic': '3 m' is not an angle (e.g. '5 deg')\n"),
                        (["--access-url", "magic=data/"], "Error: --access-url magic=data/ is not a base URL "
                                                          "(e.g. 'https://example.org/data/')\n")):  # fmt: skip
        result = CliRunner().invoke(app, ["--db", hess.url, "obscore", "export", "-o", str(tmp_path / "x.xml"), *args])
        assert (result.exit_code, result.stderr) == (1, error)
        assert not (tmp_path / "x.xml").exists()


def test_an_existing_file_is_not_overwritten(hess, tmp_path):
    out = tmp_path / "obscore.xml"
    out.write_text("mine")
    result = CliRunner().invoke(app, ["--db", hess.url, "obscore", "export", "-o", str(out)])
    assert (result.exit_code, result.stderr) == (1, f"Error: {out}: exists, not overwritten\n")
    assert out.read_text() == "mine"


def test_downgrade_drops_the_views_and_upgrade_brings_them_back(hess):
    import sqlalchemy as sa

    from obscat.store.engine import create_engine

    def views() -> dict[str, int]:
        engine = create_engine(hess.url)
        with engine.connect() as conn:
            names = set(sa.inspect(conn).get_view_names())
            counts = {n: conn.execute(sa.text(f"SELECT count(*) FROM {n}")).scalar() for n in sorted(names) if "obscore" in n}
        engine.dispose()
        return counts

    hess.close()
    runner = CliRunner()
    assert runner.invoke(app, ["--db", hess.url, "db", "downgrade", "0013"]).exit_code == 0
    assert views() == {}
    assert runner.invoke(app, ["--db", hess.url, "db", "upgrade"]).exit_code == 0
    assert views() == {"obscore": 105, "obscore_feature_set": 0, "obscore_hea": 105}


def test_the_dachs_template_sql_runs_on_the_views(hess):
    """docs/examples/obscore-dachs.rd: well-formed; each view statement's SELECT runs on the views (DaCHS
    runs on PostgreSQL; DaCHS itself runs the template in the optional job .ci/dachs, so here the
    polygon's vertices are computed without pgSphere's spoint/spoly) and gives the DIDs Catalog.obscore
    gives; the vertices lie on the circle."""
    import re
    import xml.etree.ElementTree as ET

    import sqlalchemy as sa
    from astropy.coordinates import SkyCoord
    from conftest import REPO

    from obscat.store.engine import create_engine

    if not hess.url.startswith("postgresql"):
        pytest.skip("DaCHS publishes from PostgreSQL")
    resource = ET.parse(REPO / "docs" / "examples" / "obscore-dachs.rd").getroot()
    engine = create_engine(hess.url)
    table = hess.obscore(authority="example.org")
    with engine.connect() as conn:
        for source in resource.iter("table"):
            select = re.search(r"AS \((.*)\)\s*$", source.find("viewStatement").text, re.S).group(1)
            select = select.replace("obscat.", "").replace(r"\getConfig{ivoa}{authority}", "example.org")
            rows = conn.execute(sa.text(select)).all()
            assert len(rows) == 105, source.get("id")
            if source.get("id") == "obscore_hea":
                assert sorted(r[0] for r in rows) == sorted(table["obs_publisher_did"])
        mixin = resource.find("table/mixin")
        region = mixin.get("s_region")
        arguments = re.search(r"spoint\((.*)\) ORDER BY k\)", region).group(1)
        depth = np.cumsum([(c == "(") - (c == ")") for c in arguments])
        comma = next(i for i, c in enumerate(arguments) if c == "," and depth[i] == 0)  # spoint's two arguments
        lon, lat = arguments[:comma], arguments[comma + 1:]
        vertices = conn.execute(sa.text(f"SELECT s_ra, s_dec, degrees({lon}), degrees({lat}) FROM obscore "
                                        "CROSS JOIN generate_series(0, 15) AS k")).all()  # fmt: skip
    engine.dispose()
    ra, dec, vertex_ra, vertex_dec = np.array(vertices, dtype=float).T
    separation = SkyCoord(ra * u.deg, dec * u.deg).separation(SkyCoord(vertex_ra * u.deg, vertex_dec * u.deg))
    np.testing.assert_allclose(separation.deg, float(mixin.get("s_fov")) / 2, rtol=1e-12)
    assert len(vertices) == 105 * 16


def test_drift_observations_have_no_sky_columns_and_a_transit_tracking_mode(catalog, swgo_dir):
    catalog.ingest(obs_index=swgo_dir / "obs-index.fits.gz", hdu_index=swgo_dir / "hdu-index.fits.gz", name="swgo")
    table = catalog.obscore(fov="90 deg")
    obs = catalog.observations(store="swgo")
    assert len(table) == len(obs) == 6
    for name in ("s_ra", "s_dec", "s_fov", "s_region", "t_min"):  # no pointing, no times in this index
        assert np.ma.getmaskarray(table[name]).all(), name
    assert set(table["obs_mode"]) == {"DRIFT"} and set(table["tracking_mode"]) == {"fixed-az-el-transit"}
    assert sorted(table["event_type"]) == sorted(obs["event_type"])


def test_authority_and_base_url_from_the_environment(hess, tmp_path):
    out = tmp_path / "obscore.ecsv"
    env = {"OBSCAT_OBSCORE_AUTHORITY": "example.net", "OBSCAT_OBSCORE_ACCESS_URL": "https://example.net/dl3"}
    result = CliRunner().invoke(app, ["--db", hess.url, "obscore", "export", "-o", str(out), "-f", "ecsv"], env=env)
    assert result.exit_code == 0, result.output
    row = Table.read(out)[0]
    assert row["obs_publisher_did"] == f"ivo://example.net/hess?{row['obs_id']}"
    assert row["access_url"] == f"https://example.net/dl3/data/hess_dl3_dr1_obs_id_{int(row['obs_id']):06d}.fits.gz"
