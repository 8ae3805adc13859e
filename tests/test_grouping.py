"""Manual groupings stored as rows, on both backends."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import sqlalchemy as sa
from astropy.table import Table
from conftest import TUTORIAL_CONE, sky_cone, snapshot
from typer.testing import CliRunner

from obscat import InputError
from obscat.cli.app import app
from obscat.group.points import Median, Quantiles
from obscat.query import Store

TUTORIAL = sky_cone(*TUTORIAL_CONE)


@pytest.fixture(scope="module")
def index(hess_dir) -> Table:
    table = Table.read(hess_dir / "obs-index.fits.gz")
    table.sort("OBS_ID")
    return table


def test_split_at_the_median_as_the_tutorial(hess, index):
    result = hess.split("zenith", "zen_pnt_deg", selection=TUTORIAL)
    near = index[np.isin(index["OBS_ID"], [o for o in hess.select(TUTORIAL)["obs_id"]])]
    median = np.median(near["ZEN_PNT"])
    assert result.groups["low_zenith"] == sorted(near["OBS_ID"][near["ZEN_PNT"] < median])
    assert result.groups["high_zenith"] == sorted(near["OBS_ID"][near["ZEN_PNT"] >= median])
    assert len(result.labels) == 21 and list(result.to_table()["label"][:1]) == [result.labels[0]]
    with hess.engine.connect() as conn:  # SQL users join group_member to observation
        rows = conn.execute(sa.text(
            "SELECT m.label, count(*), min(o.zen_pnt_deg) FROM group_member m JOIN grouping g ON g.id = m.grouping_id "
            "JOIN observation o ON o.id = m.observation_id WHERE g.name = 'zenith' GROUP BY m.label ORDER BY m.label"
        )).all()  # fmt: skip
    assert [(r[0], r[1]) for r in rows] == [("high_zenith", 11), ("low_zenith", 10)]
    assert rows[0][2] >= median


def test_bins_quantiles_and_by(hess, index):
    binned = hess.bins("b", "zen_pnt_deg", edges=[0, 20, 40, 60], selection=Store("hess"))
    assert {k: len(v) for k, v in binned.groups.items()} == {
        f"zenith_[{lo},{hi})": int(((index["ZEN_PNT"] >= lo) & (index["ZEN_PNT"] < hi)).sum())
        for lo, hi in ((0, 20), (20, 40), (40, 60))}  # fmt: skip
    quartiles = hess.split("q", "muoneff", at=Quantiles([0.25, 0.5, 0.75]))
    assert len(quartiles.groups) == 4 and sum(map(len, quartiles.groups.values())) == 105
    assert hess.group_by("t", "n_tels").groups == {"n_tels_4": sorted(index["OBS_ID"])}


def test_names_replace_rename_delete(hess, db_url):
    hess.group_by("g", "n_tels")
    before = snapshot(db_url)
    with pytest.raises(InputError, match=r"^a grouping named 'g' exists: pass `replace=True` to overwrite it$"):
        hess.split("g", "zen_pnt_deg")
    assert snapshot(db_url) == before
    assert set(hess.split("g", "zen_pnt_deg", replace=True).groups) == {"low_zenith", "high_zenith"}
    runner = CliRunner()
    assert runner.invoke(app, ["--db", db_url, "groups", "rename", "g", "h"]).stdout == "renamed grouping 'g' to 'h'\n"
    shown = runner.invoke(app, ["--db", db_url, "groups", "show", "h", "--format", "csv"]).stdout.splitlines()
    assert shown[0] == "label,store,obs_id" and len(shown) == 106
    assert runner.invoke(app, ["--db", db_url, "groups", "delete", "h"]).stdout == "deleted grouping 'h'\n"
    missing = runner.invoke(app, ["--db", db_url, "groups", "show", "h"])
    assert (missing.exit_code, missing.stderr) == (1, "Error: no grouping named 'h'\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["split", "zen_pnt_deg", "--name", "x", "--where", "zen_pnt_deg > 90"], "the selection holds no observation"),
        (["split", "zenith", "--name", "x"], "unknown column 'zenith'"),
        (["split", "nsblevel", "--name", "x"], "nsblevel is NULL for 105 selected observations: hess:20136"),
        (["bins", "zen_pnt_deg", "--name", "x", "--edges", "0,20"], "selected observations have zen_pnt_deg outside [0, 20)"),
        (["bins", "zen_pnt_deg", "--name", "x", "--edges", "20,10"], "--edges must be at least two increasing numbers"),
        (["split", "zen_pnt_deg", "--name", "x", "--at", "q:2"], "quantiles are q:F1,F2,... with 0 < F < 1"),
    ],
)
def test_bad_groupings_write_nothing(hess, db_url, args, message):
    before = snapshot(db_url)
    result = CliRunner().invoke(app, ["--db", db_url, "group", *args])
    assert result.exit_code == 1 and result.stderr.startswith("Error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1
    assert snapshot(db_url) == before


def test_removing_the_store_removes_its_members(hess, db_url):
    """...and says so: in its summary and in the grouping's members_removed."""
    from typer.testing import CliRunner

    from obscat.cli.app import app

    hess.group_by("g", "n_tels")
    result = CliRunner().invoke(app, ["--db", db_url, "remove", "hess"])
    assert (result.exit_code, result.stdout) == (0, "removed store 'hess' (105 observations); deleted with it: "
                                                    "0 feature values, 105 group memberships, 0 pointing results "
                                                    "(groupings changed: g)\n")  # fmt: skip
    with hess.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM group_member")).scalar() == 0
        assert conn.execute(sa.text("SELECT name, members_removed FROM grouping")).all() == [("g", 105)]


def test_the_tutorial_zenith_split_at_mid_time(hess, db_url):
    """Zenith of the pointing at the first GTI's mid-time against the median ZEN_PNT: 10 high, 11 low."""
    result = CliRunner().invoke(app, ["--db", db_url, "pointing", "--cone", "329.71693826 -30.2255 2"])
    assert result.stdout == ("pointing at mid-time stored for 21 observations (0 left NULL); "
                             "GTIs for 21 observations (21 intervals)\n")  # fmt: skip
    split = hess.split("tutorial", "zen_tmid_deg", at=Median(of="zen_pnt_deg"), selection=TUTORIAL)
    assert split.groups["high_zenith"] == [33787, 33788, 33789, 33790, 33799, 33800, 33801, 47802, 47803, 47827]
    assert len(split.groups["low_zenith"]) == 11
    table = hess.observations(store="hess", columns=["obs_id", "zen_pnt_deg", "zen_tmid_deg"])
    done = ~np.ma.getmaskarray(table["zen_tmid_deg"])
    assert done.sum() == 21  # only the selection was computed
    assert np.all(np.abs(table["zen_tmid_deg"][done] - table["zen_pnt_deg"][done]) < 1.0)


def test_clustering_reproduces_the_tutorial_labels(hess, db_url):
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    features = hess.compute_features("1 TeV", position=SkyCoord(329.71693826 * u.deg, -30.2255890 * u.deg),
                                     features=["edisp-res", "psf-radius"], selection=TUTORIAL)  # fmt: skip
    name = features.meta["feature_set"]
    result = CliRunner().invoke(app, ["--db", db_url, "group", "cluster", "--name", "irf", "--feature-set", name,
                                      "-F", "edisp-res", "-F", "psf-radius", "-k", "2", "--cone",
                                      "329.71693826 -30.2255 2"])  # fmt: skip
    assert result.exit_code == 0, result.output
    from obscat.group.grouping import grouping_rows

    stored = grouping_rows(hess.engine, "irf")  # the stored rows, read back
    assert stored.groups["cluster_1"] == [33787, 33788, 33789, 33800, 33801]  # Gammapy's label 1
    assert len(stored.groups["cluster_2"]) == 16
    with hess.engine.connect() as conn:
        summary, set_id = conn.execute(sa.text("SELECT summary, feature_set_id FROM grouping WHERE name = 'irf'")).one()
    summary = summary if isinstance(summary, dict) else json.loads(summary)
    assert summary["cluster_1"]["n"] == 5 and summary["cluster_1"]["psf-radius"]["max"] > 0.14 and set_id is not None
    bad = CliRunner().invoke(app, ["--db", db_url, "group", "cluster", "--name", "x", "--feature-set", name,
                                   "-F", "psf-radius", "-k", "2", "--store", "hess"])  # fmt: skip
    assert bad.exit_code == 1
    assert bad.stderr.startswith(f"Error: feature set {name!r} was not computed for 84 selected observations: hess:20136")
    too_many = CliRunner().invoke(app, ["--db", db_url, "group", "cluster", "--name", "x", "--feature-set", name,
                                        "-F", "psf-radius", "-k", "22", "--cone", "329.71693826 -30.2255 2"])  # fmt: skip
    assert too_many.stderr == "Error: --n-groups 22 must be between 1 and the 21 selected observations\n"


@pytest.fixture
def tutorial_features(hess):
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    table = hess.compute_features("1 TeV", position=SkyCoord(329.71693826 * u.deg, -30.2255890 * u.deg),
                                  features=["edisp-res", "psf-radius"], selection=TUTORIAL)  # fmt: skip
    return table


def _scipy_labels(table, k: int, method: str = "ward") -> np.ndarray:
    """Gammapy's recipe done by hand: z-scores, scipy's linkage (pairwise distances), maxclust."""
    from scipy.cluster.hierarchy import fcluster, linkage

    x = np.column_stack([table["edisp-res"], table["psf-radius"]])
    return fcluster(linkage((x - x.mean(0)) / x.std(0), method), t=k, criterion="maxclust")


def test_max_spread_picks_the_fewest_groups_within_tolerance(hess, tutorial_features, db_url):
    name = tutorial_features.meta["feature_set"]
    psf = np.asarray(tutorial_features["psf-radius"])
    tolerance = 0.25 * np.ptp(psf)
    result = hess.cluster("spread", ["edisp-res", "psf-radius"], feature_set=name, selection=TUTORIAL,
                          max_spread={"psf-radius": f"{tolerance * 3600} arcsec"})  # fmt: skip
    k = len(result.groups)

    def worst(labels):
        return max(np.ptp(psf[labels == g]) for g in set(labels))

    assert worst(_scipy_labels(tutorial_features, k)) <= tolerance * (1 + 1e-9)  # within ...
    assert worst(_scipy_labels(tutorial_features, k - 1)) > tolerance  # ... and one group fewer is not
    assert all(s["psf-radius"]["max"] - s["psf-radius"]["min"] <= tolerance * (1 + 1e-9)
               for s in result.summary.values())  # fmt: skip
    with hess.engine.connect() as conn:
        params = conn.execute(sa.text("SELECT params FROM grouping WHERE name = 'spread'")).scalar_one()
    params = params if isinstance(params, dict) else json.loads(params)
    assert params["n_groups"] == k and params["max_spread"]["psf-radius"][1] == "deg"
    before = snapshot(db_url)
    for spread, message in [
        ({"psf-radius": "1 TeV"}, "`max_spread` psf-radius=1 TeV: 'TeV' (energy/torque/work) and 'deg' (angle) are not convertible"),
        ({"psf-radius": "-1"}, "`max_spread` psf-radius=-1: the tolerance must be a number >= 0"),
        ({"aeff": "1"}, f"feature set {name!r} has no feature aeff (it has: edisp-res, psf-radius)"),
    ]:
        with pytest.raises(InputError, match="^" + re.escape(message)):
            hess.cluster("x", ["psf-radius"], feature_set=name, selection=TUTORIAL, max_spread=spread)
    assert snapshot(db_url) == before


def test_memory_saving_linkage_gives_scipys_tree(hess, tutorial_features, monkeypatch):
    """fastcluster's linkage_vector (ward, single) against scipy's linkage, as Gammapy calls it."""
    from obscat.group import cluster as grouping

    name = tutorial_features.meta["feature_set"]
    for method in ("ward", "single"):
        for k in (2, 3, 5, 8):
            ours = hess.cluster("a", ["edisp-res", "psf-radius"], feature_set=name, selection=TUTORIAL, n_groups=k,
                                method=method, replace=True).labels  # fmt: skip
            assert ours == [f"cluster_{n}" for n in _scipy_labels(tutorial_features, k, method)], (method, k)
    monkeypatch.setattr(grouping, "MAX_CLUSTER_OBS", 20)
    with pytest.raises(InputError, match=r"^21 selected observations: one clustering takes at most 20 \(its time"):
        hess.cluster("c", ["psf-radius"], feature_set=name, selection=TUTORIAL, n_groups=2)
    monkeypatch.undo()
    monkeypatch.setattr(grouping, "MAX_DISTANCE_MATRIX_BYTES", 1000)
    with pytest.raises(InputError, match=r"^complete linkage of 21 observations needs 0.0 GiB of pairwise distances"):
        hess.cluster("c", ["psf-radius"], feature_set=name, selection=TUTORIAL, n_groups=2, method="complete")


def test_cluster_computes_its_feature_set_on_the_fly(hess, db_url, monkeypatch):
    args = ["--db", db_url, "group", "cluster", "--name", "irf", "-F", "edisp-res", "-F", "psf-radius", "-k", "2",
            "-e", "1000 GeV", "--position", "329.71693826 -30.2255890", "--cone", "329.71693826 -30.2255 2"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    from obscat.group.grouping import grouping_rows

    assert grouping_rows(hess.engine, "irf").groups["cluster_1"] == [33787, 33788, 33789, 33800, 33801]
    with hess.engine.connect() as conn:
        computed = conn.execute(sa.text("SELECT created_at FROM feature_set")).scalar_one()
    from obscat.compute import features

    calls = []
    real = features._evaluate_all
    monkeypatch.setattr(features, "_evaluate_all", lambda tasks, *a: calls.append(len(tasks)) or real(tasks, *a))
    again = CliRunner().invoke(app, [*args[:4], "--replace", *args[4:]])  # reuses the stored feature set
    assert again.exit_code == 0, again.output
    wider = CliRunner().invoke(app, [*args[:4], "--replace", *args[4:-2], "--where",
                                     "cone(329.71693826, -30.2255, 2) or obs_id == 23523"])  # fmt: skip
    assert wider.exit_code == 0, wider.output
    assert calls == [1]  # the second run computed nothing; the wider cone only its one new observation
    with hess.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM feature_value")).scalar() == 44
        assert conn.execute(sa.text("SELECT created_at FROM feature_set")).scalar_one() >= computed
    with hess.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM feature_set")).scalar() == 1


def test_a_refused_clustering_does_not_keep_the_features_it_computed(hess, db_url):
    """Features computed on the fly and the grouping share one transaction."""
    before = snapshot(db_url)
    args = ["--db", db_url, "group", "cluster", "--name", "irf", "-F", "edisp-res", "-e", "1 TeV", "-k", "50",
            "--cone", "329.71693826 -30.2255 2"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.stderr == "Error: --n-groups 50 must be between 1 and the 21 selected observations\n"
    assert snapshot(db_url) == before
    assert CliRunner().invoke(app, [*args[:-3], "2", *args[-2:]]).exit_code == 0  # the same, valid: both written
    with hess.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM feature_value")).scalar() == 21
        assert conn.execute(sa.text("SELECT count(*) FROM group_member")).scalar() == 21


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-k", "2", "--max-distance", "1"], "give one of --n-groups, --max-distance, --inconsistent or --max-spread"),
        (["-k", "2", "--method", "median"], "--method median is not a linkage method (ward, single, complete, average)\n"),
        (["-k", "2", "--standardize", "minmax"], "--standardize minmax is not a standardisation (zscore, robust, none)\n"),
        (["--max-spread", "psf-radius"], "--max-spread takes FEATURE=VALUE, not 'psf-radius'"),
        (["-k", "2", "--where", "zen_pnt_deg > 90"], "the selection holds no observation"),
        (["-k", "2", "--obs-id", "33787"], "clustering needs at least two observations"),
        (["-k", "0"], "--n-groups 0 must be between 1 and the 21 selected observations"),
    ],
)
def test_bad_clusterings_write_nothing(hess, tutorial_features, db_url, args, message):
    before = snapshot(db_url)
    base = ["--db", db_url, "group", "cluster", "--name", "x", "--feature-set", tutorial_features.meta["feature_set"],
            "-F", "psf-radius", "--cone", "329.71693826 -30.2255 2"]  # fmt: skip
    result = CliRunner().invoke(app, [*base, *args])
    assert (result.exit_code, result.stderr.count("\n")) == (1, 1) and result.stderr.startswith("Error: " + message)
    assert snapshot(db_url) == before


def test_cached_earth_orientation_gives_gammapys_zenith(hess, hess_dir, tmp_path, monkeypatch):
    """The pickled IERS table (second run) gives exactly what astropy's own parse (first run) gives."""
    from obscat.compute.pointing import compute_pointing

    monkeypatch.setenv("OBSCAT_CACHE_DIR", str(tmp_path / "cache"))
    runs = []
    for _ in range(2):
        compute_pointing(hess.engine, TUTORIAL)
        table = hess.observations(columns=["obs_id", "zen_tmid_deg"])
        runs.append(table[~np.ma.getmaskarray(table["zen_tmid_deg"])])
    assert len(list((tmp_path / "cache").glob("iers-*.pickle"))) == 1
    np.testing.assert_array_equal(runs[0]["zen_tmid_deg"], runs[1]["zen_tmid_deg"])
    from gammapy.data import DataStore  # Gammapy's get_pointing_altaz(tmid), the reference

    store = DataStore.from_dir(hess_dir)
    for obs_id, zen in zip(runs[1]["obs_id"], runs[1]["zen_tmid_deg"]):
        obs = store.obs(int(obs_id))
        assert float(zen) == pytest.approx(obs.get_pointing_altaz(obs.tmid).zen.deg, abs=1e-9, rel=0), obs_id


@pytest.mark.parametrize("command", ["features", "cluster"])
def test_rows_are_not_written_to_observations_replaced_meanwhile(hess, db_url, magic_dir, monkeypatch, command):
    """A store removed and another ingested between a command's read and its write (SQLite reuses
    the ids): the write is refused as retryable, nothing lands on the newcomer's observations."""
    from obscat import DatabaseError
    from obscat.compute import features
    from obscat.group import cluster as grouping

    feature_set = hess.compute_features("1 TeV", features=["psf-radius"], selection=TUTORIAL).meta["feature_set"]
    after_swap = {}

    def swap_stores_then(function):
        def wrapper(*args):
            hess.remove_store("hess")
            hess.ingest(magic_dir, name="magic")
            after_swap["db"] = snapshot(db_url)
            return function(*args)

        return wrapper

    message = r"^\d+ of the selected observations were removed or replaced by another obscat process meanwhile"
    if command == "features":
        monkeypatch.setattr(features, "_evaluate_all", swap_stores_then(features._evaluate_all))
        with pytest.raises(DatabaseError, match=message):
            hess.compute_features("1 TeV", features=["edisp-res"], selection=TUTORIAL)
    else:
        monkeypatch.setattr(grouping, "standardized", swap_stores_then(grouping.standardized))
        with pytest.raises(DatabaseError, match=message):
            hess.cluster("irf", ["psf-radius"], feature_set=feature_set, selection=TUTORIAL, n_groups=2)
    assert snapshot(db_url) == after_swap["db"]
