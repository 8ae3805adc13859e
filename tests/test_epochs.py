"""Instrument epochs on the real H.E.S.S. DL3 DR1 data, both backends: loading (YAML, mappings),
each observation's epoch (also for stores ingested later), --where, group by, obs show, errors."""

from __future__ import annotations

import json

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table
from astropy.time import Time
from conftest import REPO, snapshot
from typer.testing import CliRunner

from obscat import Catalog
from obscat.cli.app import app
from obscat.errors import InputError, NotFoundError, ParameterError
from obscat.query import EpochName, Where, criterion_from_json

EXAMPLES = REPO / "docs" / "examples"


def _index(hess_dir):
    """OBS_IDs and start times (TT MJD) straight from the obs index."""
    index = Table.read(hess_dir / "obs-index.fits.gz")
    ref = index.meta["MJDREFI"] + index.meta["MJDREFF"]
    return np.asarray(index["OBS_ID"]), ref + np.asarray(index["TSTART"], float) / 86400


def _ids(cat, text):
    return sorted(int(i) for i in cat.observations(Where(text), columns=["obs_id"])["obs_id"])


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_example_files_put_every_dr1_run_in_phase_one(hess, db_url, hess_dir):
    """Both shipped files load; the DR1 runs (2004-2008) are all in hess1, none in the others."""
    for name in ("epochs-hess.yaml", "epochs-veritas.yaml"):
        result = run("--db", db_url, "epochs", "load", EXAMPLES / name)
        assert result.exit_code == 0, result.output
    table = hess.epochs()
    assert list(table["name"]) == ["hess1", "hess2", "hess1u", "V4", "V5", "V6"]
    assert dict(zip(table["name"], table["n_obs"])) == {"hess1": 105, "hess2": 0, "hess1u": 0, "V4": 0, "V5": 0, "V6": 0}
    assert table["start"][0].utc.isot == "2004-01-01T00:00:00.000" and table["stop"][0].utc.isot == "2012-07-01T00:00:00.000"
    assert table["stop"].mask.tolist() == [False, False, True, True, True, True]
    assert table["first_obs_id"].mask.tolist() == [True, True, True, True, False, False]
    assert table["last_obs_id"][3] == 46641 and table["first_obs_id"][5] == 63373
    obs_ids, tstart = _index(hess_dir)
    assert tstart.min() >= Time("2004-01-01").tt.mjd and tstart.max() < Time("2012-07-01").tt.mjd
    assert _ids(hess, "epoch == 'hess1'") == sorted(obs_ids.tolist())
    listed = run("--db", db_url, "epochs", "list", "-f", "json")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert rows[0] == {"name": "hess1", "store": None, "telescope": "HESS", "instrument": None,
                       "start_utc": "2004-01-01T00:00:00.000", "stop_utc": "2012-07-01T00:00:00.000",
                       "first_obs_id": None, "last_obs_id": None, "n_obs": 105,
                       "description": "CT1-4 (H.E.S.S. phase I)"}  # fmt: skip


TWO = {"epochs": [
    {"name": "early", "store": "hess", "stop": Time("2006-01-01")},
    {"name": "late", "telescope": "HESS", "instrument": "H.E.S.S. Phase I", "start": "2006-01-01", "stop": 55000},
    {"name": "low-ids", "telescope": "HESS", "first_obs_id": 20000, "last_obs_id": 21000},
]}  # fmt: skip


def test_epochs_by_time_and_obs_id_loaded_before_the_store_is_ingested(catalog, hess_dir):
    """Epochs loaded first; the store ingested afterwards gets its epochs: the most specific scope
    wins (store over telescope/instrument over telescope), times against the index's TSTART."""
    change = catalog.load_epochs(TWO)
    assert (change.loaded, change.n_obs, change.n_without) == (["early", "late", "low-ids"], {"early": 0, "late": 0, "low-ids": 0}, 0)
    catalog.ingest(hess_dir, name="hess")
    obs_ids, tstart = _index(hess_dir)
    boundary = Time("2006-01-01").tt.mjd
    assert _ids(catalog, "epoch == 'early'") == sorted(obs_ids[tstart < boundary].tolist())
    assert _ids(catalog, "epoch == 'late'") == sorted(obs_ids[tstart >= boundary].tolist())
    assert _ids(catalog, "epoch == 'low-ids'") == []  # its runs are all held by more specific epochs
    assert dict(zip(catalog.epochs()["name"], catalog.epochs()["n_obs"])) == {
        "early": int((tstart < boundary).sum()), "late": int((tstart >= boundary).sum()), "low-ids": 0}  # fmt: skip
    catalog.delete_epochs(["early"])
    low = obs_ids[(obs_ids >= 20000) & (obs_ids <= 21000) & (tstart < boundary)]
    assert len(low) and _ids(catalog, "epoch == 'low-ids'") == sorted(low.tolist())
    assert _ids(catalog, "epoch != 'late'") == sorted(low.tolist())  # in another epoch; no epoch: neither
    assert catalog.observation(int(low[0])).epoch.name == "low-ids"
    unassigned = obs_ids[(tstart < boundary) & ((obs_ids < 20000) | (obs_ids > 21000))]
    assert len(unassigned) and catalog.observation(int(unassigned[0])).epoch is None


def test_group_by_epoch_counts_observations_in_no_epoch(hess, db_url, hess_dir):
    obs_ids, tstart = _index(hess_dir)
    hess.load_epochs({"epochs": [{"name": "y2004", "store": "hess", "start": "2004-01-01", "stop": "2005-01-01"},
                                 {"name": "y2005", "store": "hess", "start": "2005-01-01", "stop": "2006-01-01"}]})  # fmt: skip
    in_2004 = (tstart >= Time("2004-01-01").tt.mjd) & (tstart < Time("2005-01-01").tt.mjd)
    in_2005 = (tstart >= Time("2005-01-01").tt.mjd) & (tstart < Time("2006-01-01").tt.mjd)
    outside = sorted(obs_ids[~(in_2004 | in_2005)].tolist())
    result = run("--db", db_url, "group", "by", "epoch", "--name", "by-epoch")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[:2] == [
        f"grouping 'by-epoch': {int(in_2004.sum() + in_2005.sum())} observations in 2 groups",
        f"Note: {len(outside)} selected observations in no epoch left out: "
        f"{', '.join(f'hess:{i}' for i in outside[:10])} ...",
    ]
    groups = hess.grouping("by-epoch").groups
    assert groups == {"epoch_y2004": sorted(obs_ids[in_2004].tolist()), "epoch_y2005": sorted(obs_ids[in_2005].tolist())}
    late = int((tstart >= Time("2006-01-01").tt.mjd).sum())
    with pytest.raises(InputError, match=rf"^none of the {late} selected observations is in an epoch: load epochs"):
        hess.group_by("none", "epoch", selection=Where(f"tstart_mjd >= {float(Time('2006-01-01').tt.mjd)!r}"))
    # a selection by epoch is stored as JSON and re-runs to the same observations
    hess.split("zenith", "zen_pnt_deg", selection=Where("epoch == 'y2005'"))
    stored = hess.grouping("zenith")
    assert criterion_from_json(stored.selection.to_json()).tree == EpochName("y2005")
    assert sorted(stored.members["obs_id"].tolist()) == sorted(obs_ids[in_2005].tolist())
    shown = run("--db", db_url, "obs", "show", int(obs_ids[in_2005][0]), "-f", "json")
    assert json.loads(shown.stdout)["epoch"] == "y2005"


def test_bad_definitions_are_one_line_errors_and_change_nothing(hess, db_url, tmp_path):
    hess.load_epochs(EXAMPLES / "epochs-hess.yaml")
    before = snapshot(db_url)
    cases = {
        "epochs: [name: x\n": "not valid YAML at line 2: expected ',' or ']', but got '<stream end>'",
        "epoch:\n  - name: x\n": "unknown key 'epoch' (expected 'epochs', a list of epochs)",
        "epochs: []\n": "'epochs' must be a non-empty list of epochs",
        "epochs:\n  - name: x\n    strat: 2004-01-01\n": "epoch 1 ('x'): unknown key 'strat' (known: name, store, "
        "telescope, instrument, start, stop, first_obs_id, last_obs_id, description)",
        "epochs:\n  - name: a\n    first_obs_id: 1\n  - name: x\n    start: 2010-01-01\n    stop: 2009-01-01\n":
            "epoch 2 ('x'): 'start' 2010-01-01 is not before 'stop' 2009-01-01",
        "epochs:\n  - name: x\n    first_obs_id: 9\n    last_obs_id: 3\n": "epoch 1 ('x'): 'first_obs_id' 9 is after 'last_obs_id' 3",
        "epochs:\n  - name: x\n    store: hess\n": "epoch 1 ('x'): give a time range ('start'/'stop') and/or an "
        "OBS_ID range ('first_obs_id'/'last_obs_id')",
        "epochs:\n  - name: x\n    start: soon\n": "epoch 1 ('x'): 'start' must be an ISO date/time or an MJD, not 'soon'",
        # dates YAML reads as dates but that are none: the same error, not a traceback
        "epochs:\n  - name: x\n    start: 2004-13-01\n": "epoch 1 ('x'): 'start' must be an ISO date/time or an MJD, "
        "not '2004-13-01'",
        "epochs:\n  - name: x\n    start: 2004-06-01\n    stop: 2004-06-31\n": "epoch 1 ('x'): 'stop' must be an ISO "
        "date/time or an MJD, not '2004-06-31'",
        "epochs:\n  - name: x\n    stop: 2005-01-01T25:00:00\n": "epoch 1 ('x'): 'stop' must be an ISO date/time or an "
        "MJD, not '2005-01-01T25:00:00'",
        "epochs:\n  - name: x\n    store: hess\n    telescope: HESS\n    first_obs_id: 1\n":
            "epoch 1 ('x'): give 'store' or 'telescope' (with 'instrument'), not both",
        "epochs:\n  - name: a\n    first_obs_id: 1\n  - name: a\n    first_obs_id: 5\n": "epoch 2: name 'a' is defined twice",
        # overlaps: in the file, and with a stored epoch of the same scope
        "epochs:\n  - {name: a, store: hess, first_obs_id: 100, last_obs_id: 200}\n"
        "  - {name: b, store: hess, first_obs_id: 150}\n":
            "epochs 'a' and 'b' overlap in store 'hess': observations with OBS_ID 150-200 would be in both",
        "epochs:\n  - {name: late1, telescope: HESS, start: 2011-01-01, stop: 2013-01-01}\n":
            "epochs 'hess1' (stored) and 'late1' overlap in telescope 'HESS': observations starting in "
            "[2011-01-01T00:00:00.000, 2012-07-01T00:00:00.000) UTC would be in both",
    }  # fmt: skip
    for number, (text, message) in enumerate(cases.items()):
        path = tmp_path / f"bad{number}.yaml"
        path.write_text(text)
        result = run("--db", db_url, "epochs", "load", path)
        assert (result.exit_code, result.stderr) == (1, f"Error: {path}: {message}\n"), text
        with pytest.raises(InputError) as raised:
            hess.load_epochs(path)
        assert str(raised.value) == f"{path}: {message}"
    missing = run("--db", db_url, "epochs", "load", tmp_path / "none.yaml")
    assert missing.stderr == f"Error: {tmp_path / 'none.yaml'}: cannot read epochs: No such file or directory\n"
    assert run("--db", db_url, "epochs", "delete", "hess9").stderr == (
        "Error: no epoch named 'hess9' (epochs: hess1, hess2, hess1u)\n")  # fmt: skip
    with pytest.raises(NotFoundError):
        hess.delete_epochs(["hess9"])
    assert snapshot(db_url) == before


def test_changes_need_replace_and_groupings_need_force(hess, db_url, tmp_path):
    hess.load_epochs(EXAMPLES / "epochs-hess.yaml")
    again = hess.load_epochs(EXAMPLES / "epochs-hess.yaml")  # the same definitions: nothing to do
    assert (again.loaded, again.replaced, again.unchanged) == ([], [], ["hess1", "hess2", "hess1u"])
    hess.group_by("phases", "epoch")
    changed = tmp_path / "changed.yaml"
    changed.write_text("epochs:\n  - {name: hess1, telescope: HESS, start: 2004-01-01, stop: 2012-06-01, "
                       "description: CT1-4 (H.E.S.S. phase I)}\n")
    before = snapshot(db_url)
    result = run("--db", db_url, "epochs", "load", changed)
    assert result.stderr == (f"Error: {changed}: epoch 'hess1' exists with another definition (stop "
                             "2012-07-01T00:00:00.000 UTC -> 2012-06-01T00:00:00.000 UTC): pass --replace to replace "
                             "'hess1'\n")  # fmt: skip
    result = run("--db", db_url, "epochs", "load", changed, "--replace")
    assert result.stderr == ("Error: epoch 'hess1' was used by grouping 'phases': pass --force to replace it anyway "
                             "(the grouping keeps its members)\n")  # fmt: skip
    with pytest.raises(ParameterError, match="^epoch 'hess1' was used by grouping 'phases': pass `force=True`"):
        hess.delete_epochs()
    assert snapshot(db_url) == before
    result = run("--db", db_url, "epochs", "load", changed, "--replace", "--force")
    assert result.stdout == ("epochs replaced hess1; observations per epoch: hess2 0, hess1u 0, hess1 105; "
                             "0 observations in no epoch\n")  # fmt: skip
    assert hess.grouping("phases").groups == {"epoch_hess1": sorted(hess.grouping("phases").members["obs_id"].tolist())}
    removed = run("--db", db_url, "epochs", "delete", "--all", "--force")
    assert removed.stdout == ("epochs deleted hess2, hess1u, hess1; observations per epoch: none; "
                              "105 observations in no epoch\n")  # fmt: skip
    assert len(hess.epochs()) == 0
    with pytest.raises(NotFoundError, match=r"^no epoch named 'hess1' \(no epoch is loaded: obscat epochs load FILE\)$"):
        _ids(hess, "epoch == 'hess1'")
    with Catalog(db_url) as cat:
        assert cat.observation(20136).epoch is None


def test_a_selection_naming_an_epoch_protects_it_and_a_misspelt_one_is_an_error(hess, db_url):
    hess.load_epochs(EXAMPLES / "epochs-hess.yaml")
    hess.split("by-zenith", "zen_pnt_deg", at=40 * u.deg, selection=Where("epoch == 'hess1' and n_tels == 4"))
    before = snapshot(db_url)
    result = run("--db", db_url, "epochs", "delete", "hess1")
    assert result.stderr == ("Error: epoch 'hess1' was used by grouping 'by-zenith': pass --force to delete it anyway "
                             "(the grouping keeps its members)\n")  # fmt: skip
    assert hess.delete_epochs(["hess2"]).deleted == ["hess2"]  # not used: deleted
    assert snapshot(db_url) != before
    result = run("--db", db_url, "select", "--where", "epoch == 'hess11'")
    assert result.stderr == "Error: no epoch named 'hess11': did you mean 'hess1'?\n"
    with pytest.raises(NotFoundError, match=r"^no epoch named 'V6' \(epochs: hess1, hess1u\)$"):
        hess.select(Where("epoch == 'V6'"))


def test_removing_and_reingesting_a_store_keeps_assignments_consistent(hess, db_url, hess_dir):
    """Epochs outlive their store: removing it leaves them empty, ingesting it again refills them."""
    import sqlalchemy as sa

    hess.load_epochs(EXAMPLES / "epochs-hess.yaml")
    hess.remove_store("hess")
    assert dict(zip(hess.epochs()["name"], hess.epochs()["n_obs"])) == {"hess1": 0, "hess2": 0, "hess1u": 0}
    with hess.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM observation_epoch")).scalar() == 0
    hess.ingest(hess_dir, name="hess")
    assert hess.epochs()["n_obs"].tolist() == [105, 0, 0]
    assert len(_ids(hess, "epoch == 'hess1'")) == 105
