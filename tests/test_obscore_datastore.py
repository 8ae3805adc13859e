"""``obscat.datastore_from_obscore`` and ``obscat obscore datastore``: ObsCore rows exported by obscat (or
written by hand, as any ObsCore table) opened again in Gammapy without the catalogue, each observation
the same as through the store's own index; errors name the row and the file and write nothing."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table
from typer.testing import CliRunner

from obscat import InputError, ParameterError, datastore_from_obscore
from obscat.cli.app import app

gammapy_data = pytest.importorskip("gammapy.data")

IRFS = {"full-enclosure": ("aeff", "edisp", "psf", "bkg"), "point-like": ("aeff", "edisp", "rad_max")}


def _hdus(store, obs_ids) -> set[tuple]:
    """(OBS_ID, HDU_TYPE, HDU_CLASS) of an HDU index's rows of ``obs_ids``."""
    table = store.hdu_table
    return {(int(r["OBS_ID"]), r["HDU_TYPE"].strip(), r["HDU_CLASS"].strip()) for r in table
            if int(r["OBS_ID"]) in obs_ids}  # fmt: skip


def _assert_same_observations(directory: Path, original: Path, obs_ids: list[int], irfs: str) -> None:
    """The data store in ``directory`` holds ``obs_ids`` exactly, each one as Gammapy reads it from ``original``:
    the same HDUs, IRFs, events, GTIs, pointing and obs-index values."""
    ours, theirs = gammapy_data.DataStore.from_dir(directory), gammapy_data.DataStore.from_dir(original)
    assert sorted(ours.obs_table["OBS_ID"].tolist()) == sorted(obs_ids)
    assert _hdus(ours, obs_ids) == _hdus(theirs, obs_ids)
    if "MJDREFI" in theirs.obs_table.meta:  # MAGIC's obs index has none
        assert ours.obs_table.time_ref == theirs.obs_table.time_ref
    for obs_id in obs_ids:
        mine, reference = ours.obs(obs_id, required_irf=irfs), theirs.obs(obs_id, required_irf=irfs)
        for name in IRFS[irfs]:
            irf, expected = getattr(mine, name), getattr(reference, name)
            assert irf is not None and expected is not None, (obs_id, name)
            np.testing.assert_array_equal(irf.quantity, expected.quantity)
        energy, offset = [0.5, 1, 10] * u.TeV, [0.2, 0.5, 1.5] * u.deg
        np.testing.assert_array_equal(mine.aeff.evaluate(energy_true=energy, offset=offset),
                                      reference.aeff.evaluate(energy_true=energy, offset=offset))  # fmt: skip
        assert len(mine.events.table) == len(reference.events.table) > 0
        np.testing.assert_array_equal(mine.events.energy, reference.events.energy)
        np.testing.assert_array_equal(mine.gti.time_start.mjd, reference.gti.time_start.mjd)
        np.testing.assert_array_equal(mine.gti.time_stop.mjd, reference.gti.time_stop.mjd)
        assert mine.get_pointing_icrs(mine.tmid).separation(reference.get_pointing_icrs(reference.tmid)).deg == 0
        row, expected_row = (t[t["OBS_ID"] == obs_id][0] for t in (ours.obs_table, theirs.obs_table))
        compared = [c for c in ("RA_PNT", "DEC_PNT", "TSTART", "TSTOP", "LIVETIME") if c in theirs.obs_table.colnames]
        assert len(compared) >= 4  # MAGIC's obs index has no LIVETIME
        for column in compared:
            assert row[column] == pytest.approx(expected_row[column], rel=1e-7), (obs_id, column)


def test_hess_crab_rows_open_in_gammapy_as_in_the_store(hess, hess_dir, tmp_path):
    out = hess.export_obscore(tmp_path / "obscore.xml")
    rows = Table.read(out)
    crab = rows[rows["target_name"] == "Crab Nebula"]
    assert sorted(crab["obs_id"].tolist()) == ["23523", "23526", "23559", "23592"]  # text, as ObsCore types it
    written = datastore_from_obscore(crab, tmp_path / "crab")
    assert written == tmp_path / "crab"
    assert sorted(p.name for p in written.iterdir()) == ["hdu-index.fits.gz", "obs-index.fits.gz"]
    _assert_same_observations(written, hess_dir, [int(i) for i in crab["obs_id"]], "full-enclosure")
    hdu_index = Table.read(written / "hdu-index.fits.gz")
    assert set(hdu_index["FILE_DIR"]) == {str(hess_dir / "data")}  # the original files, by absolute path
    assert datastore_from_obscore(out, tmp_path / "all") == tmp_path / "all"  # a file's name as rows
    assert len(gammapy_data.DataStore.from_dir(tmp_path / "all").obs_table) == 105


def test_magic_point_like_rows_keep_rad_max(catalog, magic_dir, tmp_path):
    catalog.ingest(magic_dir, name="magic")
    rows = catalog.obscore()
    datastore_from_obscore(rows, tmp_path / "magic")
    _assert_same_observations(tmp_path / "magic", magic_dir, [int(i) for i in rows["obs_id"]], "point-like")
    time_ref = gammapy_data.DataStore.from_dir(tmp_path / "magic").obs_table.time_ref  # the EVENTS headers'
    assert (time_ref.mjd, time_ref.scale) == (52706.0, "utc")


def test_served_rows_read_from_a_mirror_on_the_command_line(hess, hess_dir, tmp_path):
    runner = CliRunner()
    out = tmp_path / "obscore.ecsv"
    result = runner.invoke(app, ["--db", hess.url, "obscore", "export", "-f", "ecsv", "-o", str(out),
                                 "--access-url", "https://data.example.org/hess/"])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = Table.read(out)
    assert rows["access_url"][0].startswith("https://data.example.org/hess/data/hess_dl3_dr1_obs_id_")
    pks = rows[rows["target_name"] == "PKS 2155-304"][:5]
    pks.write(tmp_path / "pks.ecsv")
    catalogue = tmp_path / "never.db"
    result = runner.invoke(app, ["--db", f"sqlite:///{catalogue}", "obscore", "datastore", str(tmp_path / "pks.ecsv"),
                                 str(tmp_path / "pks"), "--mirror", f"https://data.example.org/hess={hess_dir}"])  # fmt: skip
    assert (result.exit_code, result.output) == (0, f"wrote {tmp_path / 'pks'}: 5 observations, 30 HDUs\n")
    assert not catalogue.exists()  # the catalogue is not opened
    _assert_same_observations(tmp_path / "pks", hess_dir, [int(i) for i in pks["obs_id"]], "full-enclosure")


def _hess_rows(hess_dir: Path, obs_ids: list[int]) -> Table:
    """An ObsCore table of the HESS runs ``obs_ids``, written by hand: obs_id and access_url only."""
    urls = [(hess_dir / "data" / f"hess_dl3_dr1_obs_id_{i:06d}.fits.gz").as_uri() for i in obs_ids]
    return Table({"obs_id": obs_ids, "access_url": urls})


def test_a_missing_file_is_named_with_its_row_and_nothing_is_written(hess_dir, tmp_path):
    rows = _hess_rows(hess_dir, [23523, 23526, 23559])
    rows["access_url"] = [*rows["access_url"][:1], (tmp_path / "gone.fits.gz").as_uri(), *rows["access_url"][2:]]
    (tmp_path / "empty").mkdir()
    for target in (tmp_path / "absent", tmp_path / "empty"):
        with pytest.raises(InputError) as error:
            datastore_from_obscore(rows, target)
        assert str(error.value) == f"row 2 (obs_id 23526): {tmp_path / 'gone.fits.gz'}: file not found"
    assert not (tmp_path / "absent").exists()
    assert list((tmp_path / "empty").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]  # no staging directory left behind
    rows.write(tmp_path / "rows.ecsv")
    result = CliRunner().invoke(app, ["obscore", "datastore", str(tmp_path / "rows.ecsv"), str(tmp_path / "absent")])
    assert (result.exit_code, result.stderr) == (1, f"Error: row 2 (obs_id 23526): {tmp_path / 'gone.fits.gz'}: "
                                                    "file not found\n")  # fmt: skip


def test_a_non_empty_target_is_refused(hess_dir, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match=r"full: exists and is not an empty directory$"):
        datastore_from_obscore(_hess_rows(hess_dir, [23523]), tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]


def test_rows_without_access_url_are_refused(hess_dir, tmp_path):
    rows = _hess_rows(hess_dir, [23523, 23526])
    masked = Table(rows, masked=True)
    masked["access_url"].mask[0] = True
    with pytest.raises(InputError, match=r"^row 1 \(obs_id 23523\): no access_url$"):
        datastore_from_obscore(masked, tmp_path / "out")
    rows.remove_column("access_url")
    with pytest.raises(ParameterError, match=r"^`rows` has no access_url column \(columns: obs_id\)$"):
        datastore_from_obscore(rows, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_rows_that_cannot_share_one_index_are_refused(hess_dir, magic_dir, tmp_path):
    rows = _hess_rows(hess_dir, [23523, 23523])
    with pytest.raises(InputError, match=r"^row 2 \(obs_id 23523\): .*: OBS_ID 23523 is also row 1 \(obs_id 23523\)'s"):
        datastore_from_obscore(rows, tmp_path / "out")
    rows["obs_id"][1] = 23526
    with pytest.raises(InputError, match=r"^row 2 \(obs_id 23526\): .*_023523.fits.gz holds OBS_ID 23523, not the row's$"):
        datastore_from_obscore(rows, tmp_path / "out")
    magic = next(magic_dir.glob("*.fits"))
    both = Table({"access_url": [rows["access_url"][0], magic.as_uri()]})
    with pytest.raises(InputError, match=r"^row 2: .* time reference MJDREF 52706 \+ 0.0 UTC differs from row 1's "
                                         r"MJDREF 51910 \+ 0.000742870370370241 TT; a GADF index has one$"):  # fmt: skip
        datastore_from_obscore(both, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_served_url_needs_a_mirror(hess_dir, tmp_path):
    rows = Table({"obs_id": [23523], "access_url": ["https://data.example.org/hess/data/hess_dl3_dr1_obs_id_023523.fits.gz"]})
    with pytest.raises(ParameterError, match=r"^row 1 \(obs_id 23523\): access_url 'https://.*' is not a local "
                                             r"file:// URL and no `mirror` prefix matches it$"):  # fmt: skip
        datastore_from_obscore(rows, tmp_path / "out", mirror={"https://data.example.org/other/": hess_dir})
    with pytest.raises(ParameterError, match=r"^`mirror` maps 'https://data.example.org/hess/' to .*nowhere, not a directory$"):
        datastore_from_obscore(rows, tmp_path / "out", mirror={"https://data.example.org/hess/": tmp_path / "nowhere"})
    datastore_from_obscore(rows, tmp_path / "out", mirror={"https://data.example.org/": tmp_path,
                                                          "https://data.example.org/hess/": hess_dir})  # fmt: skip
    assert gammapy_data.DataStore.from_dir(tmp_path / "out").obs(23523).aeff is not None  # the longest prefix won
    climbing = Table({"access_url": ["https://data.example.org/hess/../secret/x.fits"]})
    with pytest.raises(InputError, match=r"^row 1: access_url '.*' climbs out of the mirror directory \('\.\.'\)$"):
        datastore_from_obscore(climbing, tmp_path / "o", mirror={"https://data.example.org/hess/": hess_dir})
    (tmp_path / "notes.txt").write_text("not FITS")
    text = Table({"access_url": [(tmp_path / "notes.txt").as_uri()]})
    with pytest.raises(InputError, match=r"^row 1: .*notes\.txt: unreadable FITS file \(not a FITS file\)$"):
        datastore_from_obscore(text, tmp_path / "o")
    result = CliRunner().invoke(app, ["obscore", "datastore", "rows.ecsv", str(tmp_path / "o"), "--mirror", "nope"])
    assert (result.exit_code, result.stderr) == (1, "Error: --mirror nope is not URL=PATH\n")
