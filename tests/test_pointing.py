"""``obscat pointing`` on damaged HDU indexes: the observation is reported and left NULL, the others stored."""

from __future__ import annotations

import warnings

import numpy as np
import sqlalchemy as sa
from astropy.table import Table
from typer.testing import CliRunner

from obscat.cli.app import app
from obscat.gadf.synthetic import make_data_store


def run(url: str, *args: str):
    return CliRunner().invoke(app, ["--db", url, *args])


def test_gti_listed_as_the_events_hdu(db_url, tmp_path):
    """The HDU index names the EVENTS table as an observation's GTI: that table is read whole (not its
    header alone, as for EVENTS), has no START column, and the observation is reported; it used to
    crash with ``TypeError: 'NoneType' object is not subscriptable``."""
    store = make_data_store(tmp_path / "store", n_obs=3, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hdu = Table.read(store / "hdu-index.fits.gz")
    first = int(hdu["OBS_ID"][0])
    hdu["HDU_NAME"] = hdu["HDU_NAME"].astype("U20")
    hdu["HDU_NAME"][(hdu["OBS_ID"] == first) & (hdu["HDU_TYPE"] == "gti")] = "EVENTS"
    hdu.write(store / "hdu-index.fits.gz", overwrite=True)
    assert run(db_url, "ingest", str(store)).exit_code == 0

    result = run(db_url, "pointing")
    assert result.exit_code == 0, result.output
    path = store / "data" / f"obs_{first:06d}.fits.gz"
    assert result.stderr.splitlines()[0] == f"Warning: OBS_ID {first}: {path}: missing or bad keyword/column no " \
                                            "field of name START"
    assert result.stdout == ("pointing at mid-time stored for 2 observations (1 left NULL); "
                             "GTIs for 2 observations (2 intervals)\n")  # fmt: skip
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT o.obs_id, p.zen_tmid_deg FROM observation o "
                                          "JOIN pointing p ON p.observation_id = o.id")).all()  # fmt: skip
    finally:
        engine.dispose()
    assert {obs_id for obs_id, _ in stored} == set(np.unique(hdu["OBS_ID"]).tolist()) - {first}
    assert all(0 <= zenith <= 90 for _, zenith in stored)
