"""obscat's fast FITS table reader against astropy: every binary table of the shared data,
and synthetic tables with TZERO (unsigned), TSCAL, TNULL, logical and text columns."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from obscat.gadf.fits import FitsError, read_header, read_tables
from tests.conftest import DATA


def _files() -> list[Path]:
    return sorted(Path(root, name) for root, _, names in os.walk(DATA, followlinks=True)
                  for name in names if name.endswith((".fits", ".fits.gz")))  # fmt: skip


def assert_same_as_astropy(path: Path) -> int:
    """Compare every binary-table HDU of ``path`` column by column; the number of tables compared."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fits.open(path, memmap=False) as hdul:
            expected = {h.name: h for h in hdul[1:] if isinstance(h, fits.BinTableHDU)}
            ours = read_tables(str(path), set(expected))
            assert set(ours) == set(expected), path
            for name, hdu in expected.items():
                table = ours[name]
                assert not isinstance(table, FitsError), f"{path} [{name}]: {table}"
                assert list(table.data.dtype.names) == hdu.columns.names
                assert len(table.data) == len(hdu.data)
                for column in hdu.columns:
                    _assert_column(table.data[column.name], hdu.data[column.name], f"{path} [{name}] {column.name}")
                    assert table.units.get(column.name) == (column.unit or None)
    return len(expected)


def _assert_column(got: np.ndarray, want: np.ndarray, where: str) -> None:
    if want.dtype.kind in "US":  # astropy gives str with trailing spaces removed; obscat the stored bytes
        decoded = np.char.rstrip(np.char.decode(got, "ascii"))
        assert decoded.tolist() == np.asarray(want).astype(str).tolist(), where
        return
    want = np.asarray(want)
    assert got.dtype == want.dtype.newbyteorder("=") or got.dtype == want.dtype, (where, got.dtype, want.dtype)
    assert got.shape == want.shape, where
    assert np.array_equal(got, want, equal_nan=want.dtype.kind == "f"), where


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(DATA)))
def test_every_table_of_the_shared_data_reads_as_astropy_reads_it(path):
    assert assert_same_as_astropy(path) >= 1


def test_the_shared_data_is_all_there():
    names = {p.parent.name for p in _files()}
    assert len(_files()) >= 140 and {"data", "map_irfs"} <= names


def _write(path: Path, columns: list[fits.Column], cards: dict | None = None, name: str = "T") -> Path:
    """A FITS file of one table; ``cards`` (TSCALn, TZEROn ...) are added to its header
    with the data bytes left as stored, as another writer would leave them."""
    hdu = fits.BinTableHDU.from_columns(columns, name=name)
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    if cards:
        header = hdu.header.copy()
        header.update(cards)
        raw = path.read_bytes()
        with fits.open(path) as hdul:
            where = hdul[1].fileinfo()
        path.write_bytes(raw[:where["hdrLoc"]] + header.tostring().encode() + raw[where["datLoc"]:])
    return path


def test_unsigned_scaled_logical_and_text_columns_read_as_astropy(tmp_path):
    path = _write(tmp_path / "t.fits", [
        fits.Column("U16", "I", bzero=32768, array=np.array([0, 1, 32768, 65535], np.uint16)),
        fits.Column("U32", "J", bzero=2**31, array=np.array([0, 1, 2**31, 2**32 - 1], np.uint32)),
        fits.Column("U64", "K", bzero=2**63, array=np.array([0, 1, 2**63, 2**64 - 1], np.uint64)),
        fits.Column("U16V", "2I", bzero=32768, array=np.array([[0, 65535]] * 4, np.uint16)),
        fits.Column("S8", "B", bzero=-128, array=np.array([0, 1, 128, 255], np.uint8)),
        fits.Column("SCALED", "I", array=np.array([10, 11, 12, -3], np.int16)),
        fits.Column("SCALEDE", "E", array=np.array([1, 3, 5, np.nan], np.float32)),
        fits.Column("SHIFTED", "2D", array=np.array([[1, 3.0]] * 4)),
        fits.Column("NOTNULL", "J", null=-99, array=np.array([1, 2, 3, 4], np.int32)),
        fits.Column("FLAG", "L", array=np.array([True, False, True, False])),
        fits.Column("FLAGS", "3L", array=np.array([[True, False, True]] * 4)),
        fits.Column("TEXT", "8A", array=np.array(["ab", "c d  ", "", "12345678"])),
        fits.Column("PLAIN", "D", unit="TeV", array=np.array([1.5, np.nan, -np.inf, 0.0])),
    ], {"TSCAL6": 0.5, "TZERO6": 3.0, "TSCAL7": 2.0, "TZERO7": 1.0, "TZERO8": 7.0})
    assert assert_same_as_astropy(path) == 1
    data = read_tables(str(path), {"t"})["T"].data  # and the values themselves, not only "as astropy"
    assert data["U16"].tolist() == [0, 1, 32768, 65535] and data["U16"].dtype == np.uint16
    assert data["U64"].tolist() == [0, 1, 2**63, 2**64 - 1] and data["U64"].dtype == np.uint64
    assert data["SCALED"].tolist() == [8.0, 8.5, 9.0, 1.5]
    assert data["SHIFTED"].tolist() == [[8.0, 10.0]] * 4
    assert data["FLAG"].tolist() == [True, False, True, False]


def test_a_logical_cell_left_undefined_is_false_as_in_astropy(tmp_path):
    path = _write(tmp_path / "l.fits", [fits.Column("FLAG", "L", array=np.array([True, False, True]))])
    raw = bytearray(path.read_bytes())
    with fits.open(path) as hdul:
        start = hdul[1].fileinfo()["datLoc"]
    raw[start + 1] = 0  # a NUL byte: undefined
    path.write_bytes(bytes(raw))
    assert assert_same_as_astropy(path) == 1
    assert read_tables(str(path), {"T"})["T"].data["FLAG"].tolist() == [True, False, True]


def test_an_integer_column_holding_its_null_value_is_refused_by_name(tmp_path):
    path = _write(tmp_path / "n.fits", [
        fits.Column("OK", "D", array=np.array([1.0, 2.0, 3.0])),
        fits.Column("COUNTS", "J", null=-99, array=np.array([1, -99, 3], np.int32)),
    ], name="EVENTS")
    error = read_tables(str(path), {"EVENTS"})["EVENTS"]
    assert isinstance(error, FitsError)
    assert str(error) == ("column COUNTS holds its null value (TNULL2 = -99) in 1 of 3 cells; "
                          "obscat does not read integer columns with nulls")
    assert read_tables(str(path), {"EVENTS"}, headers_only={"EVENTS"})["EVENTS"].header["TNULL2"] == -99


def test_unsupported_column_types_are_refused_by_name(tmp_path):
    path = _write(tmp_path / "c.fits", [fits.Column("Z", "C", array=np.array([1 + 2j]))])
    assert str(read_tables(str(path), {"T"})["T"]) == "column Z has TFORM 'C', not supported"


def test_read_header_gives_any_hdu_header_as_astropy_reads_it(hess_dir, swgo_dir):
    events = next((hess_dir / "data").glob("*.fits.gz"))
    ours = read_header(str(events), "events")
    astropy_header = fits.getheader(events, "EVENTS")
    for key in ("MJDREFI", "MJDREFF", "TIMESYS", "TSTART", "RA_PNT", "GEOLAT", "ALT_PNT", "OBS_ID"):
        assert ours.header[key] == astropy_header[key], key
    assert ours.data is None
    psf_map = next((swgo_dir / "map_irfs").glob("PSFMap_*.fits.gz"))  # an image HDU, in a name with spaces
    name = fits.open(psf_map)[1].name
    assert ours.astropy_header()["OBS_ID"] == astropy_header["OBS_ID"]
    assert dict(read_header(str(psf_map), name).astropy_header()) == dict(fits.getheader(psf_map, name))
    with pytest.raises(FitsError, match="^no HDU named NOPE$"):
        read_header(str(events), "NOPE")
