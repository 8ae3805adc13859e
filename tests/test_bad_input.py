"""Bad input: one exact ``Error:`` line, exit code 1, and the database exactly as before."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from conftest import snapshot
from typer.testing import CliRunner

from obscat.cli.app import app


def run(url: str | None, *args: str):
    prefix = ["--db", url] if url else []
    return CliRunner().invoke(app, [*prefix, *args])


def assert_error(result, message: str, exit_code: int = 1) -> None:
    assert result.exit_code == exit_code, result.output
    assert result.stderr == f"Error: {message}\n"
    assert "Traceback" not in result.output


@pytest.fixture
def populated(db_url, magic_dir) -> str:
    """A catalogue that already holds a store, so 'unchanged' means something."""
    assert run(db_url, "ingest", str(magic_dir), "--name", "magic").exit_code == 0
    return db_url


@pytest.fixture
def hess_tables(hess_dir):
    obs = Table.read(hess_dir / "obs-index.fits.gz")
    hdu = Table.read(hess_dir / "hdu-index.fits.gz")
    hdu["FILE_DIR"] = [str(hess_dir / "data")] * len(hdu)
    return obs, hdu


def write_store(path: Path, obs: Table, hdu: Table) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for table, name in ((obs, "obs-index.fits.gz"), (hdu, "hdu-index.fits.gz")):
        table.meta.pop("COMMENT", None)
        table.write(path / name, overwrite=True)
    return path


def check_rejected(url: str, store: Path, message: str) -> None:
    before = snapshot(url)
    assert_error(run(url, "ingest", str(store), "--name", "bad"), message)
    assert snapshot(url) == before


def test_missing_index_files(populated, tmp_path):
    check_rejected(populated, tmp_path, f"{tmp_path}: no obs-index.fits.gz or obs-index.fits in this directory")
    check_rejected(populated, tmp_path / "nope", f"{tmp_path / 'nope'}: no such directory")


def test_missing_hdu_index(populated, tmp_path, hess_dir):
    (tmp_path / "obs-index.fits.gz").write_bytes((hess_dir / "obs-index.fits.gz").read_bytes())
    check_rejected(populated, tmp_path, f"{tmp_path}: no hdu-index.fits.gz or hdu-index.fits in this directory")


def test_non_fits_file(populated, tmp_path, hess_dir):
    (tmp_path / "obs-index.fits.gz").write_text("OBS_ID,RA_PNT\n1,2\n")
    (tmp_path / "hdu-index.fits.gz").write_bytes((hess_dir / "hdu-index.fits.gz").read_bytes())
    check_rejected(populated, tmp_path, f"{tmp_path / 'obs-index.fits.gz'}: not a FITS file")


def test_truncated_gzip(populated, tmp_path, hess_dir):
    data = (hess_dir / "obs-index.fits.gz").read_bytes()
    (tmp_path / "obs-index.fits.gz").write_bytes(data[: len(data) // 2])
    (tmp_path / "hdu-index.fits.gz").write_bytes((hess_dir / "hdu-index.fits.gz").read_bytes())
    check_rejected(
        populated, tmp_path,
        f"{tmp_path / 'obs-index.fits.gz'}: truncated or corrupt gzip data "
        "(Compressed file ended before the end-of-stream marker was reached)",
    )


def test_truncated_fits_inside_gzip(populated, tmp_path, hess_dir):
    raw = gzip.decompress((hess_dir / "obs-index.fits.gz").read_bytes())
    (tmp_path / "obs-index.fits.gz").write_bytes(gzip.compress(raw[:4000]))
    (tmp_path / "hdu-index.fits.gz").write_bytes((hess_dir / "hdu-index.fits.gz").read_bytes())
    check_rejected(populated, tmp_path, f"{tmp_path / 'obs-index.fits.gz'}: truncated FITS file "
                   "(4000 bytes is not a whole number of 2880-byte blocks)")


@pytest.mark.parametrize("column", ["OBS_ID", "RA_PNT", "TSTART"])
def test_missing_required_column(populated, tmp_path, hess_tables, column):
    obs, hdu = hess_tables
    obs.remove_column(column)
    store = write_store(tmp_path / "s", obs, hdu)
    check_rejected(populated, store, f"{store / 'obs-index.fits.gz'}: missing required column {column}")


def test_duplicate_obs_ids(populated, tmp_path, hess_tables):
    obs, hdu = hess_tables
    obs["OBS_ID"][4] = obs["OBS_ID"][1]
    store = write_store(tmp_path / "s", obs, hdu)
    check_rejected(populated, store, f"{store / 'obs-index.fits.gz'}: duplicate OBS_ID 20137 in rows 2 and 5")


def test_hdu_row_for_unknown_observation(populated, tmp_path, hess_tables):
    obs, hdu = hess_tables
    obs = obs[obs["OBS_ID"] != 20137]
    store = write_store(tmp_path / "s", obs, hdu)
    check_rejected(populated, store, f"{store / 'hdu-index.fits.gz'}: row 7: OBS_ID 20137 is not in the observation index")


@pytest.mark.parametrize(("column", "value", "shown"), [("RA_PNT", np.nan, "nan"), ("DEC_PNT", np.inf, "inf")])
def test_non_finite_pointing(populated, tmp_path, hess_tables, column, value, shown):
    obs, hdu = hess_tables
    obs[column][2] = value
    store = write_store(tmp_path / "s", obs, hdu)
    check_rejected(populated, store, f"{store / 'obs-index.fits.gz'}: row 3 (OBS_ID 20151): {column} is {shown}")


def test_unknown_hdu_class(populated, tmp_path, hess_tables):
    obs, hdu = hess_tables
    hdu["HDU_CLASS"] = hdu["HDU_CLASS"].astype("U12")
    hdu["HDU_CLASS"][8] = "psf_gauss"
    store = write_store(tmp_path / "s", obs, hdu)
    check_rejected(
        populated, store,
        f"{store / 'hdu-index.fits.gz'}: row 9 (OBS_ID 20137): unknown HDU_CLASS 'psf_gauss' (valid: events, gti, "
        "pointing, aeff_2d, edisp_2d, psf_table, psf_3gauss, psf_king, bkg_2d, bkg_3d, rad_max_2d, psf_map, "
        "psf_map_reco, edisp_map, edisp_kernel_map, map)",
    )


def test_wrong_unit(populated, tmp_path, hess_tables):
    obs, hdu = hess_tables
    obs["ZEN_PNT"].unit = "m"
    store = write_store(tmp_path / "s", obs, hdu)
    check_rejected(populated, store, f"{store / 'obs-index.fits.gz'}: column ZEN_PNT has unit 'm', not convertible to 'deg'")


def test_tstop_before_tstart(populated, tmp_path, hess_tables):
    obs, hdu = hess_tables
    obs["TSTOP"][0] = obs["TSTART"][0] - 1
    store = write_store(tmp_path / "s", obs, hdu)
    check_rejected(populated, store, f"{store / 'obs-index.fits.gz'}: row 1 (OBS_ID 20136): TSTOP is before TSTART")


def test_failure_during_write_rolls_back(populated, hess_dir, monkeypatch):
    """An error after rows were written (here: a bug in the HDU insert) leaves nothing behind,
    and is reported as what it is: an internal error, with its own exit status."""
    from obscat.store import ingest

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    before = snapshot(populated)
    monkeypatch.setattr(ingest, "write_hdus", boom)
    result = run(populated, "ingest", str(hess_dir), "--name", "hess")
    assert_error(result, "internal error: RuntimeError: disk full (rerun with --debug)", exit_code=3)
    assert snapshot(populated) == before


def test_database_that_cannot_be_opened(tmp_path):
    url = f"sqlite:///{tmp_path}/missing/dir/cat.db"
    assert_error(run(url, "stores"), f"cannot open database {url!r}: unable to open database file")
    assert not (tmp_path / "missing").exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root@localhost/x", "unsupported database URL 'mysql://root@localhost/x': use sqlite:///FILE or postgresql://USER@HOST/DB"),
        ("nowhere/not a url", "database 'nowhere/not a url' is neither a URL (sqlite:///FILE, postgresql://USER@HOST/DB) "
                              "nor a file name in an existing directory"),
        ("postgresql://u@h:port/db", "cannot parse database URL 'postgresql+psycopg://u@h:port/db'"),
    ],
)
def test_unsupported_database_url(url, message):
    assert_error(run(url, "stores"), message)


def test_unreachable_postgresql():
    result = run("postgresql://postgres:secret@127.0.0.1:1/x", "stores")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot open database 'postgresql+psycopg://postgres:***@127.0.0.1:1/x': ")
    assert "secret" not in result.output and result.stderr.count("\n") == 1


def test_not_an_obscat_database(tmp_path):
    import sqlite3

    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    assert_error(run(f"sqlite:///{path}", "stores"),
                 f"database 'sqlite:///{path}' has tables but no obscat schema version: it is not an obscat catalogue")


def test_debug_shows_traceback(tmp_path):
    result = run(f"sqlite:///{tmp_path}/missing/cat.db", "--debug", "stores")
    assert result.exit_code == 1
    assert isinstance(result.exception, Exception) and "Error:" not in result.output


def test_fits_header_keyword_not_a_number(populated, tmp_path, hess_tables):
    obs, hdu = hess_tables
    obs.meta["GEOLAT"] = "south"
    store = write_store(tmp_path / "s", obs, hdu)
    check_rejected(populated, store, f"{store / 'obs-index.fits.gz'}: header keyword GEOLAT='south' is not a number")


def test_bad_store_name(populated, hess_dir):
    before = snapshot(populated)
    assert_error(run(populated, "ingest", str(hess_dir), "--name", "  "), "store name must not be empty")
    assert_error(run(populated, "ingest", str(hess_dir), "--name", "a\x00b"), "store name 'a\\x00b' contains control characters")
    assert snapshot(populated) == before


def test_zero_row_obs_index(populated, tmp_path, hess_tables):
    obs, hdu = hess_tables
    store = write_store(tmp_path / "s", obs[:0], hdu[:0])
    check_rejected(populated, store, f"{store / 'obs-index.fits.gz'}: the observation index has no rows")


def test_fits_without_table(populated, tmp_path, hess_dir):
    fits.PrimaryHDU().writeto(tmp_path / "obs-index.fits")
    (tmp_path / "hdu-index.fits.gz").write_bytes((hess_dir / "hdu-index.fits.gz").read_bytes())
    check_rejected(populated, tmp_path, f"{tmp_path / 'obs-index.fits'}: no binary table HDU")
