"""Catalog.datastore: Gammapy DataStores built in memory give the same observations, IRF values and
events as DataStore.from_dir on the same runs (HESS, MAGIC point-like, SWGO map IRFs), on both backends."""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np
import pytest
from astropy import units as u
from conftest import snapshot
from gammapy.data import DataStore

from obscat import NotFoundError
from obscat.errors import InputError, ObscatError, ParameterError

#: 3 deg around the Crab: the 4 H.E.S.S. DL3 DR1 Crab runs, as a Gammapy selection.
CRAB = {"type": "sky_circle", "frame": "icrs", "lon": "83.633 deg", "lat": "22.0145 deg", "radius": "3 deg"}
ENERGIES = [0.5, 1.0, 3.0, 10.0] * u.TeV
OFFSETS = [0.2, 0.5, 1.0, 1.5] * u.deg


def _quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Gammapy's notes on the files, the same for both stores
        return function(*args, **kwargs)


def assert_same_observations(ours, theirs, *, point_like: bool = False) -> None:
    """Events, GTIs and IRFs evaluated on a grid: identical, observation by observation."""
    assert [o.obs_id for o in ours] == [o.obs_id for o in theirs] != []
    for a, b in zip(ours, theirs):
        assert len(a.events.table) == len(b.events.table) > 0
        np.testing.assert_array_equal(a.events.table["ENERGY"], b.events.table["ENERGY"])
        np.testing.assert_array_equal(a.gti.time_start.mjd, b.gti.time_start.mjd)
        offsets = 0.4 * u.deg if point_like else OFFSETS  # point-like IRFs: one offset bin
        grid = {"energy_true": ENERGIES[:, None], "offset": offsets}
        assert np.all(a.aeff.evaluate(**grid) == b.aeff.evaluate(**grid))
        assert np.any(a.aeff.evaluate(**grid) > 0 * u.m**2)
        migra = {"energy_true": 1 * u.TeV, "offset": offsets if point_like else offsets[:, None], "migra": [0.8, 1.0, 1.2]}
        assert np.all(a.edisp.evaluate(**migra) == b.edisp.evaluate(**migra))
        if point_like:
            radius = {"energy": ENERGIES[:, None], "offset": 0.4 * u.deg}
            assert np.all(a.rad_max.evaluate(**radius) == b.rad_max.evaluate(**radius))
            continue
        rad = {"energy_true": ENERGIES[:, None], "offset": 0.5 * u.deg, "rad": [0.02, 0.05, 0.1] * u.deg}
        assert np.all(a.psf.evaluate(**rad) == b.psf.evaluate(**rad))
        fov = {"energy": ENERGIES[:, None], "fov_lon": OFFSETS, "fov_lat": 0.3 * u.deg}
        assert np.all(a.bkg.evaluate(**fov) == b.bkg.evaluate(**fov))


def _absolute_locations(store: DataStore) -> list[str]:
    paths = [str(store.hdu_table.location_info(i).path()) for i in range(len(store.hdu_table))]
    assert all(os.path.isabs(p) for p in paths)
    return paths


def test_a_selection_gives_the_runs_and_irfs_gammapy_reads_from_the_directory(hess, hess_dir, tmp_path, monkeypatch):
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    reference = DataStore.from_dir(hess_dir)
    store = hess.datastore(CRAB)
    assert list((tmp_path / "cwd").iterdir()) == []  # nothing written
    expected = sorted(reference.obs_table.select_observations(CRAB)["OBS_ID"])
    assert list(store.obs_table["OBS_ID"]) == expected and len(expected) == 4
    for name in ("RA_PNT", "DEC_PNT", "ZEN_PNT", "LIVETIME", "TSTART", "TSTOP"):
        rows = reference.obs_table[np.isin(reference.obs_table["OBS_ID"], expected)]
        np.testing.assert_array_equal(store.obs_table[name], rows[name].astype(float))
        assert store.obs_table[name].unit == rows[name].unit
    assert store.obs_table.time_ref == reference.obs_table.time_ref
    ours = [str(p) for p in _absolute_locations(store)]
    theirs = [os.path.realpath(reference.hdu_table.location_info(i).path())
              for i in np.flatnonzero(np.isin(reference.hdu_table["OBS_ID"], expected))]  # fmt: skip
    assert ours == theirs and len(ours) == 6 * 4
    assert_same_observations(_quiet(store.get_observations), _quiet(reference.get_observations, expected))


def test_a_grouping_label_gives_its_runs(hess, hess_dir):
    result = hess.split("zenith-split", "zen_pnt_deg", selection=CRAB)
    low = result.groups["low_zenith"]
    assert len(low) == 2
    observations = _quiet(hess.datastore(grouping="zenith-split", label="low_zenith").get_observations)
    reference = _quiet(DataStore.from_dir(hess_dir).get_observations, low)
    assert_same_observations(observations, reference)
    whole = hess.datastore(grouping="zenith-split")  # no label: every member; a selection narrows it
    assert list(whole.obs_table["OBS_ID"]) == sorted(low + result.groups["high_zenith"])
    assert list(hess.datastore({"type": "par_box", "variable": "OBS_ID", "value_range": [low[0] - 0.5, low[0] + 0.5]},
                               grouping="zenith-split")  # fmt: skip
                .obs_table["OBS_ID"]) == [low[0]]


def test_magic_point_like_rad_max(catalog, magic_dir):
    catalog.ingest(magic_dir, name="magic")
    reference = DataStore.from_dir(magic_dir)
    observations = _quiet(catalog.datastore().get_observations, required_irf="point-like")
    assert_same_observations(observations, _quiet(reference.get_observations, required_irf="point-like"),
                             point_like=True)  # fmt: skip


def test_swgo_map_irfs_in_file_names_with_spaces(catalog, swgo_dir):
    catalog.ingest(swgo_dir, name="swgo")
    reference = DataStore.from_dir(swgo_dir)
    store = catalog.datastore()
    assert list(store.obs_table["OBS_ID"]) == sorted(reference.obs_table["OBS_ID"]) == [0, 1, 2, 3, 4, 5]
    paths = _absolute_locations(store)
    assert any(" " in p for p in paths)
    assert paths == [os.path.realpath(p) for p in _absolute_locations(reference)]
    for obs_id in (0, 5):
        for hdu_type in ("aeff", "bkg"):
            ours = _quiet(store.hdu_table.hdu_location(obs_id, hdu_type).load)
            theirs = _quiet(reference.hdu_table.hdu_location(obs_id, hdu_type).load)
            assert ours.geom == theirs.geom
            np.testing.assert_array_equal(ours.data, theirs.data)


def test_errors_name_the_parameter_or_the_grouping_and_change_nothing(hess, magic_dir, db_url, monkeypatch):
    hess.split("zenith-split", "zen_pnt_deg", selection=CRAB)
    before = snapshot(db_url)
    cases = [
        (ParameterError, {"label": "low_zenith"}, "`label='low_zenith'` needs `grouping`, the grouping it is a label of"),
        (NotFoundError, {"grouping": "nope"}, "no grouping named 'nope'"),
        (NotFoundError, {"grouping": "zenith-split", "label": "low"},
         "grouping 'zenith-split' has no label 'low' (its labels: high_zenith, low_zenith)"),
        (NotFoundError, {"selection": {"type": "par_box", "variable": "OBS_ID", "value_range": [0, 1]}},
         "the selection holds no observation"),
    ]  # fmt: skip
    for kind, kwargs, message in cases:
        with pytest.raises(kind) as error:
            hess.datastore(**kwargs)
        assert str(error.value) == message
    assert snapshot(db_url) == before
    hess.ingest(magic_dir, name="magic-a")
    hess.ingest(magic_dir, name="magic-b")
    with pytest.raises(InputError) as error:
        hess.datastore({"type": "par_box", "variable": "OBS_ID", "value_range": [5029747, 5029748]})
    assert str(error.value) == "the selection holds OBS_ID 5029747 of several stores (a GADF index needs unique OBS_IDs)"
    monkeypatch.setitem(sys.modules, "gammapy.data", None)  # Gammapy not installed
    with pytest.raises(ObscatError) as error:
        hess.datastore(CRAB)
    assert str(error.value) == "Catalog.datastore needs Gammapy: pip install 'obscat[gammapy]'"
