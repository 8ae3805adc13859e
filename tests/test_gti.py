"""Good time intervals: ``obscat pointing`` stores every GTI row (table ``gti_interval``), equal to
Gammapy's ``obs.gti`` on HESS, MAGIC and a store with several rows in UTC; ``Catalog.gti``, the ORM,
ObsCore's ``t_intervals`` (views and export) and store removal read them, on both backends."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import sqlalchemy as sa
from astropy.io import fits
from astropy.table import Table
from typer.testing import CliRunner

from obscat.cli.app import app
from obscat.gadf.synthetic import make_data_store
from obscat.store.models import Observation

gammapy_data = pytest.importorskip("gammapy.data")

#: 1 µs, in days: the GTIs as stored equal Gammapy's to well under this.
MICROSECOND_D = 1e-6 / 86400


def run(url: str, *args: str):
    return CliRunner().invoke(app, ["--db", url, *args])


def _reference(store_dir) -> dict[int, np.ndarray]:
    """Gammapy's GTIs of every observation of a store: OBS_ID -> [[start, stop], ...] as TT MJD."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store = gammapy_data.DataStore.from_dir(store_dir)
        gtis = {}
        for obs_id in store.obs_table["OBS_ID"]:
            gti = store.obs(int(obs_id), required_irf=[]).gti
            gtis[int(obs_id)] = np.column_stack([gti.time_start.tt.mjd, gti.time_stop.tt.mjd])
    return gtis


def _stored(catalog) -> dict[int, np.ndarray]:
    table = catalog.gti()
    assert table["start"].scale == table["stop"].scale == "tt"
    return {int(k): np.column_stack([table["start"].mjd[table["obs_id"] == k], table["stop"].mjd[table["obs_id"] == k]])
            for k in np.unique(table["obs_id"])}  # fmt: skip


@pytest.mark.parametrize("store", ["hess", "magic"])
def test_gti_equals_gammapy(db_url, catalog, store, hess_dir, magic_dir):
    """Every observation's GTI rows equal Gammapy's ``obs.gti`` (TT) to < 1 µs, HESS DR1 and MAGIC."""
    directory = hess_dir if store == "hess" else magic_dir
    assert run(db_url, "ingest", str(directory), "--name", store).exit_code == 0
    result = run(db_url, "pointing")
    assert result.exit_code == 0, result.output
    n = 105 if store == "hess" else 2
    assert result.stdout.endswith(f"; GTIs for {n} observations ({n} intervals)\n")
    reference, stored = _reference(directory), _stored(catalog)
    assert sorted(stored) == sorted(reference) and len(stored) == n
    for obs_id, intervals in reference.items():
        assert stored[obs_id].shape == intervals.shape
        assert np.abs(stored[obs_id] - intervals).max() < MICROSECOND_D, obs_id
    # ObsCore's t_min and t_max are then the GTI's first START and last STOP: Gammapy's obs.tstart, obs.tstop
    table = catalog.obscore()
    for row in table:
        intervals = reference[int(row["obs_id"])]
        assert abs(row["t_min"] - intervals[0, 0]) < MICROSECOND_D and abs(row["t_max"] - intervals[-1, 1]) < MICROSECOND_D
        assert row["t_intervals"][0] == row["t_min"] and row["t_intervals"][-1] == row["t_max"]


def _multi_row_store(tmp_path):
    """A synthetic store whose second observation's GTI has three rows, in UTC, with its own MJDREF."""
    directory = make_data_store(tmp_path / "store", n_obs=3, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obs_id = int(Table.read(directory / "obs-index.fits.gz")["OBS_ID"][1])
    path = directory / "data" / f"obs_{obs_id:06d}.fits.gz"
    with fits.open(path) as hdus:
        hdus = fits.HDUList([h.copy() for h in hdus])
    gti = hdus["GTI"]
    old_ref = gti.header["MJDREFI"] + gti.header.get("MJDREFF", 0.0)
    t0 = float(gti.data["START"][0]) + (old_ref - 51910) * 86400  # seconds after MJD 51910 (TT)
    starts, stops = t0 + np.array([0.0, 700.0, 1300.5]), t0 + np.array([600.0, 1200.0, 1500.25])
    columns = [fits.Column("START", "D", "s", array=starts), fits.Column("STOP", "D", "s", array=stops)]
    new = fits.BinTableHDU.from_columns(columns, header=gti.header, name="GTI")
    new.header.update(MJDREFI=51910, MJDREFF=0.00074287037037037, TIMESYS="UTC")
    hdus[hdus.index_of("GTI")] = new
    hdus.writeto(path, overwrite=True)
    return directory, obs_id, path


def test_several_rows_in_utc(db_url, catalog, tmp_path):
    """Three GTI rows in UTC with a MJDREF of their own: stored in GTI order as TT, equal to Gammapy's;
    ``t_intervals`` lists them in the views (text, 10 decimals), in ``Catalog.obscore`` (doubles),
    in every export format and in the ORM."""
    directory, obs_id, path = _multi_row_store(tmp_path)
    assert run(db_url, "ingest", str(directory), "--name", "s").exit_code == 0
    assert run(db_url, "pointing").stdout.endswith("; GTIs for 3 observations (5 intervals)\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gti = gammapy_data.GTI.read(path)
    reference = np.column_stack([gti.time_start.tt.mjd, gti.time_stop.tt.mjd])
    stored = _stored(catalog)[obs_id]
    assert stored.shape == (3, 2)
    assert np.abs(stored - reference).max() < MICROSECOND_D
    # UTC -> TT: 32.184 s + the leap seconds (32 in 2000-2005, MJD 51910 is 2001-01-01)
    assert stored[0, 0] - (51910 + 0.00074287037037037) == pytest.approx(
        (float(fits.getdata(path, "GTI")["START"][0]) + 64.184) / 86400, abs=MICROSECOND_D)

    with catalog.session() as session:
        observation = session.scalars(sa.select(Observation).where(Observation.obs_id == obs_id)).one()
        assert [(i.seq, i.start_mjd, i.stop_mjd) for i in observation.gti_intervals] == \
               [(k, *row) for k, row in enumerate(stored.tolist())]

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            text = conn.execute(sa.text("SELECT t_intervals FROM obscore_hea WHERE obs_id = :o"), {"o": str(obs_id)}).scalar()
    finally:
        engine.dispose()
    assert text == " ".join(f"{v:.10f}" for v in stored.ravel())

    table = catalog.obscore()
    row = table[table["obs_id"] == str(obs_id)][0]
    assert row["t_intervals"].tolist() == stored.ravel().tolist()
    assert (row["t_min"], row["t_max"]) == (stored[0, 0], stored[-1, 1])
    assert table["t_intervals"].unit == "d" and table["t_intervals"].meta["ucd"] == "time.interval"
    for fmt, astropy_format in (("votable", "votable"), ("ecsv", "ascii.ecsv"), ("fits", "fits"), ("csv", "ascii.csv")):
        written = Table.read(catalog.export_obscore(tmp_path / f"obscore.{fmt}", format=fmt), format=astropy_format)
        value = written[np.array([str(i) for i in written["obs_id"]]) == str(obs_id)][0]["t_intervals"]
        values = [float(v) for v in value.split()] if fmt == "csv" else list(value)
        assert values == stored.ravel().tolist(), fmt


def test_gti_without_events_header_and_rerun(db_url, catalog, tmp_path):
    """An observation without EVENTS HDU keeps its GTIs (its pointing NULL, with the reason); a second
    run replaces the rows (no duplicates); `obscat check` finds them stale once their file changed;
    removing the store counts them and deletes them."""
    directory = make_data_store(tmp_path / "store", n_obs=3, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hdu = Table.read(directory / "hdu-index.fits.gz")
    first = int(hdu["OBS_ID"][0])
    hdu[~((hdu["OBS_ID"] == first) & (hdu["HDU_TYPE"] == "events"))].write(directory / "hdu-index.fits.gz",
                                                                         overwrite=True)  # fmt: skip
    assert run(db_url, "ingest", str(directory)).exit_code == 0
    for _ in range(2):
        result = run(db_url, "pointing")
        assert result.exit_code == 0, result.output
        assert result.stderr == f"Warning: OBS_ID {first}: no events HDU in the HDU index\n"
        assert result.stdout == ("pointing at mid-time stored for 2 observations (1 left NULL); "
                                 "GTIs for 3 observations (3 intervals)\n")  # fmt: skip
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            count = "SELECT count(*) FROM gti_interval"
            assert conn.execute(sa.text(count)).scalar() == 3
            assert conn.execute(sa.text("SELECT count(*) FROM obscore_hea WHERE t_intervals IS NOT NULL")).scalar() == 3
        assert run(db_url, "check").exit_code == 0
        path = directory / "data" / f"obs_{first:06d}.fits.gz"
        with fits.open(path) as hdus:
            hdus = fits.HDUList([h.copy() for h in hdus])
        hdus["GTI"].data["STOP"] += 60.0
        hdus.writeto(path, overwrite=True)
        checked = run(db_url, "check")
        assert checked.exit_code == 1 and checked.stderr.rstrip().endswith("stale: 0 feature values, 1 pointing result")
        removed = run(db_url, "remove", "store")
        assert removed.exit_code == 0, removed.output
        assert removed.stdout.endswith("0 feature values, 0 group memberships, 3 pointing results\n")
        with engine.connect() as conn:
            assert conn.execute(sa.text(count)).scalar() == 0
    finally:
        engine.dispose()
    assert len(catalog.obscore()) == 0


def test_no_gti_read_yet(catalog, hess_dir):
    """Before ``obscat pointing``: ``Catalog.gti`` is empty and ``t_intervals`` NULL (empty arrays)."""
    catalog.ingest(hess_dir, name="hess")
    assert len(catalog.gti()) == 0
    assert all(len(v) == 0 for v in catalog.obscore()["t_intervals"])


def test_a_store_without_gti_tables(db_url, catalog, swgo_dir):
    """SWGO's test layout has no GTI HDU: each observation is reported, no GTI is stored, and
    t_intervals stays empty, as Gammapy's ``obs.gti`` is None there."""
    catalog.ingest(swgo_dir, name="swgo")
    result = run(db_url, "pointing")
    assert result.exit_code == 0, result.output
    assert result.stdout == "pointing at mid-time stored for 0 observations (6 left NULL); GTIs for 0 observations (0 intervals)\n"
    assert all(line.endswith("DummyEvents.fits.gz: no GTI table") for line in result.stderr.splitlines())
    assert len(result.stderr.splitlines()) == 6
    assert len(catalog.gti()) == 0 and [len(v) for v in catalog.obscore()["t_intervals"]] == [0] * 6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store = gammapy_data.DataStore.from_dir(swgo_dir)
        assert store.obs(int(store.obs_table["OBS_ID"][0]), required_irf=[]).gti is None
