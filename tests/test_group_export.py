"""Stored groupings exported as GADF data stores Gammapy opens, and as CSV/ECSV tables, on both backends."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import sqlalchemy as sa
from astropy import units as u
from astropy.table import Table
from conftest import TUTORIAL_CONE, sky_cone, snapshot
from gammapy.data import DataStore

from obscat import InputError, NotFoundError
from obscat.group.export import export_gadf, export_table
from obscat.query import Store

TUTORIAL = sky_cone(*TUTORIAL_CONE)


@pytest.fixture(scope="module")
def hess_store(hess_dir) -> DataStore:
    return DataStore.from_dir(hess_dir)


def test_each_group_is_a_data_store_gammapy_opens(hess, hess_store, tmp_path):
    result = hess.split("z", "zen_pnt_deg", selection=TUTORIAL)
    out = tmp_path / "export"
    assert export_gadf(hess.engine, "z", out) == [out / "high_zenith", out / "low_zenith"]
    described = json.loads((out / "grouping.json").read_text())
    assert (described["name"], described["method"], described["params"]["column"]) == ("z", "split", "zen_pnt_deg")
    assert described["created_at"].endswith("+00:00") and described["labels"]["low_zenith"]["directory"] == "low_zenith"
    assert {k: v["obs_ids"] for k, v in described["labels"].items()} == {k: {"hess": v} for k, v in result.groups.items()}
    original = hess_store.obs_table
    for label, obs_ids in result.groups.items():
        store = DataStore.from_dir(out / label)
        assert list(store.check(checks=["obs_table", "hdu_table", "consistency"])) == []
        assert sorted(store.obs_table["OBS_ID"]) == obs_ids
        assert store.obs_table.time_ref == original.time_ref
        rows = original[np.searchsorted(original["OBS_ID"], store.obs_table["OBS_ID"])]
        for name in ("RA_PNT", "DEC_PNT", "ZEN_PNT", "LIVETIME", "TSTART", "TARGET_OFFSET"):
            assert store.obs_table[name].unit == rows[name].unit
            np.testing.assert_array_equal(store.obs_table[name], rows[name].astype(float))
        assert list(store.obs_table["TARGET_NAME"]) == list(rows["TARGET_NAME"])
        # the original files by their real path: ingest resolves symbolic links (the data path may hold one)
        assert [str(store.hdu_table.location_info(i).path()) for i in range(len(store.hdu_table))] == [
            os.path.realpath(hess_store.hdu_table.location_info(i).path())
            for i in np.flatnonzero(np.isin(hess_store.hdu_table["OBS_ID"], obs_ids))]  # fmt: skip
        observations = store.get_observations()
        assert [o.obs_id for o in observations] == obs_ids
        exported, reference = observations[0], hess_store.obs(obs_ids[0])
        assert len(exported.events.table) == len(reference.events.table) > 0
        at = {"energy_true": 1 * u.TeV, "offset": 0.5 * u.deg}
        assert exported.aeff.evaluate(**at) == reference.aeff.evaluate(**at) > 0 * u.m**2
    hess.ingest(out / "low_zenith", name="low")  # obscat reads its own export: the same files
    with hess.engine.connect() as conn:
        paths = conn.execute(sa.text("SELECT store, obs_id, hdu_type, path FROM hdu_location")).all()
    low = {(o, t, p) for s, o, t, p in paths if s == "low"}
    assert len(low) == 6 * 10 and low == {(o, t, p) for s, o, t, p in paths if s == "hess" and o in result.groups["low_zenith"]}


def test_a_minimal_magic_index_exports_and_opens(catalog, magic_dir, tmp_path):
    catalog.ingest(magic_dir, name="magic")
    result = catalog.split("m", "ra_pnt_deg", selection=Store("magic"))
    reference = DataStore.from_dir(magic_dir)
    for folder in export_gadf(catalog.engine, "m", tmp_path / "m"):
        store = DataStore.from_dir(folder)
        assert store.obs_table.colnames == ["OBS_ID", "RA_PNT", "DEC_PNT", "TSTART", "TSTOP", "DEADC"]
        assert list(store.obs_table["OBS_ID"]) == result.groups[folder.name]
        (observation,) = store.get_observations(required_irf="point-like")
        events = observation.events.table
        assert len(events) == len(reference.obs(observation.obs_id, required_irf="point-like").events.table)
        assert observation.rad_max is not None
        assert [store.obs_table.meta[k] for k in ("MJDREFI", "MJDREFF", "TIMESYS")] == [
            events.meta["MJDREFI"], events.meta["MJDREFF"], events.meta["TIMESYS"]]  # fmt: skip


def test_ecsv_and_csv_tables(hess, tmp_path):
    result = hess.split("z", "zen_pnt_deg", selection=TUTORIAL)
    assert export_table(hess.engine, "z", tmp_path / "z.ecsv", "ecsv") == tmp_path / "z.ecsv"
    table = Table.read(tmp_path / "z.ecsv")
    assert (table.meta["name"], table.meta["method"], table.meta["params"]["column"]) == ("z", "split", "zen_pnt_deg")
    assert table.meta["summary"] == result.summary
    assert list(zip(table["store"], table["obs_id"], table["label"])) == sorted(result.members, key=lambda m: m[2])
    observations = hess.observations(store="hess")
    rows = observations[np.searchsorted(observations["obs_id"], table["obs_id"])]
    for name in ("ra_pnt_deg", "zen_pnt_deg", "livetime_s", "tstart_mjd", "safe_energy_lo_tev", "object"):
        assert table[name].unit == rows[name].unit
        assert list(table[name]) == list(rows[name])
    assert table["livetime_s"].unit == u.s and table["tmid_str"].dtype.kind == "U" and table["tmid_str"].mask.all()
    export_table(hess.engine, "z", tmp_path / "z.csv", "csv")
    lines = (tmp_path / "z.csv").read_text().splitlines()
    assert lines[0].startswith("label,store,obs_id,obs_mode,ra_pnt_deg,") and len(lines) == 1 + 21


def test_errors_name_the_grouping_or_path_and_change_nothing(hess, magic_dir, db_url, tmp_path):
    with pytest.raises(NotFoundError, match=r"^no grouping named 'nope'$"):
        export_gadf(hess.engine, "nope", tmp_path / "a")
    with pytest.raises(NotFoundError, match=r"^no grouping named 'nope'$"):
        export_table(hess.engine, "nope", tmp_path / "a.csv", "csv")
    hess.split("z", "zen_pnt_deg", selection=TUTORIAL)
    target = tmp_path / "full"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    before = snapshot(db_url)
    with pytest.raises(InputError, match=rf"^{target}: exists and is not an empty directory$"):
        export_gadf(hess.engine, "z", target)
    assert snapshot(db_url) == before
    assert [p.name for p in target.iterdir()] == ["keep.txt"] and (target / "keep.txt").read_text() == "mine"
    assert not list(tmp_path.glob(".full*"))  # no temporary directory left behind
    (tmp_path / "t.csv").write_text("mine")
    with pytest.raises(InputError, match=rf"^{tmp_path / 't.csv'}: exists, not overwritten$"):
        export_table(hess.engine, "z", tmp_path / "t.csv", "csv")
    with pytest.raises(InputError, match=r"^unknown table format 'fits' \(csv, ecsv\)$"):
        export_table(hess.engine, "z", tmp_path / "z.fits", "fits")
    hess.ingest(magic_dir, name="magic")
    hess.split("both", "ra_pnt_deg", at=400 * u.deg)  # one group holding HESS and MAGIC
    with pytest.raises(InputError, match=r"^grouping 'both': group 'low_ra_pnt' mixes stores with different time "
                                         r"references \(hess, magic\)$"):  # fmt: skip
        export_gadf(hess.engine, "both", tmp_path / "both")
    assert not (tmp_path / "both").exists() and not list(tmp_path.glob(".both*"))


def test_labels_become_safe_directory_names(hess, tmp_path):
    hess.split("z", "zen_pnt_deg", selection=TUTORIAL)
    with hess.engine.begin() as conn:
        conn.execute(sa.text("UPDATE group_member SET label = '..' WHERE label = 'low_zenith'"))
        conn.execute(sa.text("UPDATE group_member SET label = '../up' WHERE label = 'high_zenith'"))
    with pytest.raises(InputError, match=r"^grouping 'z': label '\.\.' is not usable as a directory name$"):
        export_gadf(hess.engine, "z", tmp_path / "out")
    with hess.engine.begin() as conn:
        conn.execute(sa.text("UPDATE group_member SET label = 'zenith_[0,20) a/b' WHERE label = '..'"))
    assert export_gadf(hess.engine, "z", tmp_path / "out") == [tmp_path / "out" / ".._up",
                                                                tmp_path / "out" / "zenith_[0,20)_a_b"]  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".._up", "grouping.json", "zenith_[0,20)_a_b"]


def test_groups_export_command(hess, db_url, tmp_path):
    from typer.testing import CliRunner

    from obscat.cli.app import app

    hess.split("z", "zen_pnt_deg", selection=TUTORIAL)
    runner = CliRunner()
    result = runner.invoke(app, ["--db", db_url, "groups", "export", "z", str(tmp_path / "gadf")])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [str(tmp_path / "gadf" / "high_zenith"), str(tmp_path / "gadf" / "low_zenith")]
    assert sorted(DataStore.from_dir(tmp_path / "gadf" / "low_zenith").obs_table["OBS_ID"]) == hess.split("z", "zen_pnt_deg", selection=TUTORIAL, replace=True).groups["low_zenith"]  # fmt: skip
    table = runner.invoke(app, ["--db", db_url, "groups", "export", "z", str(tmp_path / "z.ecsv"), "-f", "ecsv"])
    assert table.exit_code == 0 and len(Table.read(tmp_path / "z.ecsv")) == 21
    again = runner.invoke(app, ["--db", db_url, "groups", "export", "z", str(tmp_path / "gadf")])
    assert (again.exit_code, again.stderr) == (1, f"Error: {tmp_path / 'gadf'}: exists and is not an empty directory\n")


def test_hdu_index_columns_match_the_original_index(hess, hess_store, tmp_path):
    """The vectorised HDU index: every column as in the store's own HDU index (rows of the group's
    observations, in obs-index then HDU order), string columns as wide as their longest value."""
    from astropy.io import fits

    result = hess.bins("z", "zen_pnt_deg", [0, 30, 45, 70])
    export_gadf(hess.engine, "z", tmp_path / "out")
    original = hess_store.hdu_table
    for label, obs_ids in result.groups.items():
        path = tmp_path / "out" / label / "hdu-index.fits.gz"
        exported = Table.read(path)
        order = np.concatenate([np.flatnonzero(original["OBS_ID"] == o) for o in obs_ids])
        expected = original[order]
        assert len(exported) == 6 * len(obs_ids)
        for name in ("OBS_ID", "HDU_TYPE", "HDU_CLASS", "FILE_NAME", "HDU_NAME"):
            assert [str(v).strip() for v in exported[name]] == [str(v).strip() for v in expected[name]], name
        with fits.open(path) as hdus:
            columns = hdus[1].columns
            for name in ("FILE_DIR", "FILE_NAME", "HDU_TYPE"):
                width = max(len(str(v)) for v in exported[name])
                assert columns[name].format == f"{width}A", name
