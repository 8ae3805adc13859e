"""Nothing is lost in ordinary use (issue #9): name clashes, re-ingest, staleness, export, clustering.

Every test runs on SQLite and PostgreSQL and checks the database before and after.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from astropy.io import fits
from astropy.table import Table
from conftest import TUTORIAL_CONE, sky_cone, snapshot
from typer.testing import CliRunner

from obscat import Catalog
from obscat.cli.app import app
from obscat.compute.pointing import compute_pointing
from obscat.errors import ParameterError

CONE = sky_cone(*TUTORIAL_CONE)


def _rows(cat: Catalog, sql: str, **params) -> list:
    with cat.engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def _count(cat: Catalog, table: str) -> int:
    return _rows(cat, f"SELECT count(*) FROM {table}")[0][0]


def _write_index(table: Table, path: Path) -> None:
    table.meta.pop("COMMENT", None)
    fits.HDUList([fits.PrimaryHDU(), fits.table_to_hdu(table)]).writeto(path, overwrite=True)


def _hess_copy(hess_dir: Path, out: Path) -> tuple[Table, Table]:
    """The HESS index tables written to ``out``, FILE_DIR pointing back at the data (read-only)."""
    obs = Table.read(hess_dir / "obs-index.fits.gz")
    hdu = Table.read(hess_dir / "hdu-index.fits.gz")
    hdu["FILE_DIR"] = [str(hess_dir / "data")] * len(hdu)
    out.mkdir()
    _write_index(obs, out / "obs-index.fits.gz")
    _write_index(hdu, out / "hdu-index.fits.gz")
    return obs, hdu


def _derive(cat: Catalog) -> None:
    """Pointing, features and two groupings of the tutorial's 21 observations."""
    compute_pointing(cat.engine, CONE)
    cat.compute_features("1 TeV", features=["aeff", "edisp-res"], fixed_offset="0.5 deg", selection=CONE)
    cat.split("zenith", "zen_tmid_deg", selection=CONE)
    cat.group_by("tels", "n_tels", selection=CONE)


# -- ingest under an existing name -----------------------------------------------------


def test_ingest_under_a_name_from_other_index_files_is_refused(catalog, db_url, hess_dir, magic_dir):
    catalog.ingest(hess_dir, name="s")
    _derive(catalog)
    before = snapshot(db_url)
    message = (
        f"store 's' was ingested from {hess_dir / 'obs-index.fits.gz'} and {hess_dir / 'hdu-index.fits.gz'}: "
        f"ingesting {magic_dir / 'obs-index.fits.gz'} under its name would delete its 105 observations, "
        "42 feature values, 42 group memberships, 21 pointing results (groupings changed: tels, zenith); give "
    )
    with pytest.raises(ParameterError) as refused:
        catalog.ingest(magic_dir, name="s")
    assert str(refused.value) == f"{message}another `name`, or pass `replace=True` to replace it"
    result = CliRunner().invoke(app, ["--db", db_url, "ingest", str(magic_dir), "--name", "s"])
    assert (result.exit_code, result.stderr) == (1, f"Error: {message}another --name, or pass --replace to replace it\n")
    assert snapshot(db_url) == before  # nothing deleted

    result = CliRunner().invoke(app, ["--db", db_url, "ingest", str(magic_dir), "--name", "s", "--replace"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("store 's' replaced: 2 observations, 10 HDUs in 2 files in ")
    assert result.stdout.endswith("; deleted with the replaced observations: 42 feature values, 42 group memberships, "
                                  "21 pointing results (groupings changed: tels, zenith)\n")  # fmt: skip
    assert [(s.name, s.n_obs, s.root_path) for s in catalog.stores()] == [("s", 2, str(magic_dir))]
    assert (_count(catalog, "feature_value"), _count(catalog, "group_member")) == (0, 0)
    assert _rows(catalog, "SELECT name, members_removed FROM grouping ORDER BY name") == [("tels", 21), ("zenith", 21)]


def test_same_index_files_under_their_name_need_no_replace(catalog, hess_dir, tmp_path):
    """The same files reached by another spelling of their path are the same store."""
    catalog.ingest(hess_dir, name="s")
    report = catalog.ingest(Path(str(hess_dir) + "/./"), name="s")
    assert report.status == "unchanged"


# -- re-ingest keeps what was derived ----------------------------------------------------


def test_reingest_of_a_changed_index_keeps_derived_results(catalog, db_url, hess_dir, tmp_path):
    obs, hdu = _hess_copy(hess_dir, tmp_path / "store")
    catalog.ingest(tmp_path / "store", name="s")
    _derive(catalog)
    kept_query = ("SELECT o.obs_id, p.zen_tmid_deg, p.alt_tmid_deg, p.az_tmid_deg, p.tmid_gti_mjd FROM observation o "
                  "JOIN pointing p ON p.observation_id = o.id ORDER BY o.obs_id")  # fmt: skip
    pointing_before = _rows(catalog, kept_query)
    values_before = _rows(catalog, "SELECT o.obs_id, v.feature, v.value FROM feature_value v "
                                   "JOIN observation o ON o.id = v.observation_id ORDER BY 1, 2")  # fmt: skip
    members_before = _rows(catalog, "SELECT g.name, o.obs_id, m.label FROM group_member m JOIN grouping g "
                                    "ON g.id = m.grouping_id JOIN observation o ON o.id = m.observation_id ORDER BY 1, 2")  # fmt: skip
    assert len(pointing_before) == 21 and len(values_before) == 42 and len(members_before) == 42
    in_cone = [row[0] for row in pointing_before]
    gone = in_cone[:2]  # two observations of the tutorial leave the index
    changed = in_cone[5]  # one changes its MUONEFF
    keep = ~np.isin(obs["OBS_ID"], gone)
    obs = obs[keep]
    obs["MUONEFF"][list(obs["OBS_ID"]).index(changed)] = 0.5
    _write_index(obs, tmp_path / "store" / "obs-index.fits.gz")
    _write_index(hdu[~np.isin(hdu["OBS_ID"], gone)], tmp_path / "store" / "hdu-index.fits.gz")

    result = CliRunner().invoke(app, ["--db", db_url, "ingest", str(tmp_path / "store"), "--name", "s"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("store 's' updated: 103 observations, 618 HDUs in 103 files (0 added, 1 updated, "
                                    "2 removed) in ")  # fmt: skip
    assert result.stdout.endswith("; deleted with the removed observations: 4 feature values, 4 group memberships, "
                                  "2 pointing results (groupings changed: tels, zenith)\n")  # fmt: skip
    assert _rows(catalog, kept_query) == [r for r in pointing_before if r[0] not in gone]
    assert _rows(catalog, "SELECT o.obs_id, v.feature, v.value FROM feature_value v JOIN observation o "
                          "ON o.id = v.observation_id ORDER BY 1, 2") == [r for r in values_before if r[0] not in gone]  # fmt: skip
    assert _rows(catalog, "SELECT g.name, o.obs_id, m.label FROM group_member m JOIN grouping g ON g.id = m.grouping_id "
                          "JOIN observation o ON o.id = m.observation_id ORDER BY 1, 2") == [
        r for r in members_before if r[1] not in gone]  # fmt: skip
    assert _rows(catalog, "SELECT muoneff FROM observation WHERE obs_id = :o", o=changed) == [(0.5,)]
    assert _rows(catalog, "SELECT name, members_removed FROM grouping ORDER BY name") == [("tels", 2), ("zenith", 2)]
    groups = CliRunner().invoke(app, ["--db", db_url, "groups", "list", "-f", "csv"])
    labels = {g: len({r[2] for r in members_before if r[0] == g and r[1] not in gone}) for g in ("tels", "zenith")}
    assert [line.split(",")[:5] for line in groups.stdout.splitlines()] == [
        ["name", "method", "n_groups", "n_obs", "members_removed"], ["tels", "by", str(labels["tels"]), "19", "2"],
        ["zenith", "split", str(labels["zenith"]), "19", "2"]]  # fmt: skip


# -- clustering that cannot make K groups ------------------------------------------------


def test_cluster_into_more_groups_than_distinct_features_says_so(catalog, db_url, tmp_path):
    """Six observations sharing one data file have identical features: -k 3 makes one group."""
    from obscat.gadf.synthetic import make_data_store

    make_data_store(tmp_path / "same", n_obs=6, n_files=1)
    catalog.ingest(tmp_path / "same", name="same")
    result = CliRunner().invoke(app, ["--db", db_url, "group", "cluster", "--name", "c", "-F", "edisp-res",
                                      "-F", "psf-radius", "-e", "1 TeV", "-k", "3"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [
        "grouping 'c': 6 observations in 1 group",
        "Note: --n-groups 3: the features of the 6 observations make only 1 distinct group (identical values); "
        "stored 1"]  # fmt: skip
    (params,) = _rows(catalog, "SELECT params FROM grouping WHERE name = 'c'")[0]
    params = params if isinstance(params, dict) else json.loads(params)  # JSON text on SQLite
    assert (params["n_groups"], params["n_groups_requested"]) == (1, 3)
    assert _rows(catalog, "SELECT DISTINCT label FROM group_member") == [("cluster_1",)]
    out = tmp_path / "tree.png"
    # pytest turns warnings into errors: the dendrogram of zero distances must draw without one
    plotted = CliRunner().invoke(app, ["--db", db_url, "plot", "c", "--kind", "dendrogram", "-o", str(out)])
    assert plotted.exit_code == 0, plotted.stderr
    assert out.stat().st_size > 0


# -- staleness, check and export with changed files --------------------------------------


@pytest.fixture
def own_files(catalog, hess_dir, tmp_path):
    """HESS ingested as "s" with the files of three tutorial observations copied to tmp_path/files
    (so that the test can change them); returns their OBS_IDs and paths."""
    import shutil

    obs, hdu = _hess_copy(hess_dir, tmp_path / "store")
    catalog.ingest(tmp_path / "store", name="s")
    mine = [obs_id for obs_id in catalog.select(CONE)["obs_id"]][:3]
    (tmp_path / "files").mkdir()
    for obs_id in mine:
        name = f"hess_dl3_dr1_obs_id_{obs_id:06d}.fits.gz"
        shutil.copy(hess_dir / "data" / name, tmp_path / "files" / name)
    hdu["FILE_DIR"] = [str(tmp_path / "files") if o in mine else d for o, d in zip(hdu["OBS_ID"], hdu["FILE_DIR"])]
    _write_index(hdu, tmp_path / "store" / "hdu-index.fits.gz")
    catalog.ingest(tmp_path / "store", name="s")
    return mine, [str(tmp_path / "files" / f"hess_dl3_dr1_obs_id_{o:06d}.fits.gz") for o in mine]


def _double_effective_area(path: str) -> None:
    with fits.open(path) as hdus:
        hdus["AEFF"].data["EFFAREA"] *= 2
        hdus.writeto(path + ".tmp.fits.gz")
    Path(path + ".tmp.fits.gz").replace(path)


def test_changed_files_make_values_stale_and_only_those_are_recomputed(catalog, db_url, own_files):
    from astropy import units as u
    from gammapy.irf import EffectiveAreaTable2D

    mine, paths = own_files
    runner = CliRunner()
    compute = ["--db", db_url, "features", "compute", "-e", "1 TeV", "-F", "aeff", "-F", "edisp-res", "--offset", "0.5",
               "--cone", " ".join(map(str, TUTORIAL_CONE)), "-f", "csv"]  # fmt: skip
    first = runner.invoke(app, compute)
    assert first.exit_code == 0 and first.stderr.endswith(": 21 observations (21 computed)\n")
    compute_pointing(catalog.engine, CONE)
    assert runner.invoke(app, compute).stderr.endswith(": 21 observations (0 computed)\n")  # nothing is stale
    clean = runner.invoke(app, ["--db", db_url, "check"])
    assert (clean.exit_code, clean.stdout) == (0, "")
    assert clean.stderr == ("checked 105 data files and 2 index files of 1 store: 0 missing, 0 changed, 0 unreadable; stale: 0 feature values, "
                            "0 pointing results\n")  # fmt: skip

    stat = os.stat(paths[0])
    os.utime(paths[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**10))  # touched: same bytes, CRC-32 as recorded
    assert runner.invoke(app, compute).stderr.endswith(": 21 observations (0 computed)\n")
    touched = runner.invoke(app, ["--db", db_url, "check", "-f", "csv"])
    assert (touched.exit_code, touched.stdout, touched.stderr) == (0, "", clean.stderr)  # the bytes results read

    _double_effective_area(paths[0])
    Path(paths[1]).unlink()
    Path(paths[2]).unlink()
    Path(paths[2]).mkdir()  # a directory where the file was
    before = snapshot(db_url)
    checked = runner.invoke(app, ["--db", db_url, "check", "-f", "csv"])
    assert checked.exit_code == 1
    lines = checked.stdout.splitlines()
    assert lines[0] == "store,path,state,detail"
    assert sorted(line.split(",")[1:3] for line in lines[1:]) == sorted(
        [[paths[0], "changed"], [paths[1], "missing"], [paths[2], "unreadable"]])  # fmt: skip
    assert checked.stderr == ("checked 105 data files and 2 index files of 1 store: 1 missing, 1 changed, 1 unreadable; stale: 6 feature "
                              "values, 3 pointing results\n")  # fmt: skip
    assert runner.invoke(app, ["--db", db_url, "check", "--store", "s"]).stderr == checked.stderr
    assert snapshot(db_url) == before  # check writes nothing
    listed = runner.invoke(app, ["--db", db_url, "features", "list", "-f", "csv"]).stdout.splitlines()
    assert listed[0].split(",")[7:9] == ["n_null", "n_stale"] and listed[1].split(",")[6:9] == ["21", "0", "6"]

    set_name = listed[1].split(",")[0]
    again = runner.invoke(app, compute)
    assert again.exit_code == 0 and again.stderr == (
        "Warning: values of 2 observations kept: files they were computed from are missing (`obscat check` lists "
        "them; --recompute to recompute anyway)\n"
        f"feature set {set_name}: 21 observations (1 computed)\n")  # fmt: skip
    values = {r[0]: r for r in _rows(catalog, "SELECT o.obs_id, v.value, v.null_reason FROM feature_value v JOIN "
                                              "observation o ON o.id = v.observation_id WHERE v.feature = 'aeff'")}  # fmt: skip
    expected = EffectiveAreaTable2D.read(paths[0], hdu="AEFF").evaluate(energy_true=1 * u.TeV, offset=0.5 * u.deg)
    assert values[mine[0]][1] == pytest.approx(expected.to_value(u.m**2), rel=1e-12)
    before_value = [float(r.split(",")[2]) for r in first.stdout.splitlines()[1:] if r.split(",")[1] == str(mine[0])]
    assert values[mine[0]][1] == pytest.approx(2 * before_value[0], rel=1e-12)  # the doubled area, recomputed
    # values computed from files that have gone since are kept (stale), not replaced by NULL
    kept = {r.split(",")[1]: float(r.split(",")[2]) for r in first.stdout.splitlines()[1:]}
    assert [values[o][1:] for o in mine[1:]] == [(kept[str(o)], None) for o in mine[1:]]
    listed = runner.invoke(app, ["--db", db_url, "features", "list", "-f", "csv"]).stdout.splitlines()
    assert listed[1].split(",")[6:9] == ["21", "0", "4"]
    # asked for: --recompute makes them NULL with the reason, and they stay stale so the next compute tries them
    recomputed = runner.invoke(app, [*compute, "--recompute"])
    assert recomputed.exit_code == 0 and recomputed.stderr.endswith(": 21 observations (21 computed)\n")
    values = {r[0]: r for r in _rows(catalog, "SELECT o.obs_id, v.value, v.null_reason FROM feature_value v JOIN "
                                              "observation o ON o.id = v.observation_id WHERE v.feature = 'aeff'")}  # fmt: skip
    assert values[mine[1]][1] is None and "cannot read the file" in values[mine[1]][2]
    assert values[mine[2]][1] is None
    listed = runner.invoke(app, ["--db", db_url, "features", "list", "-f", "csv"]).stdout.splitlines()
    assert listed[1].split(",")[6:9] == ["21", "4", "4"]
    assert runner.invoke(app, compute).stderr.endswith(": 21 observations (2 computed)\n")


def test_export_of_a_group_with_missing_files_is_refused_unless_allowed(catalog, db_url, own_files, tmp_path):
    mine, paths = own_files
    catalog.split("z", "zen_pnt_deg", selection=CONE)
    Path(paths[1]).unlink()
    Path(paths[2]).unlink()
    runner = CliRunner()
    refused = runner.invoke(app, ["--db", db_url, "groups", "export", "z", str(tmp_path / "out")])
    message = (f"grouping 'z': 2 of the 21 data files of its observations are missing: {paths[1]}, {paths[2]}")
    assert (refused.exit_code, refused.stderr) == (1, f"Error: {message}; pass --allow-missing to export it anyway\n")
    with pytest.raises(ParameterError, match=f"^{re.escape(message)}; pass `allow_missing=True` to export it anyway$"):
        catalog.export_grouping("z", tmp_path / "out")
    assert not (tmp_path / "out").exists() and list(tmp_path.glob(".out*")) == []
    allowed = runner.invoke(app, ["--db", db_url, "groups", "export", "z", str(tmp_path / "out"), "--allow-missing"])
    assert allowed.exit_code == 0
    assert allowed.stderr == f"Warning: {message}; exported anyway, Gammapy will fail on them\n"
    assert allowed.stdout.splitlines() == [str(tmp_path / "out" / "high_zenith"), str(tmp_path / "out" / "low_zenith")]
