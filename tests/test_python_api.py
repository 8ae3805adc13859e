"""The public Python API (`obscat.Catalog`): the tutorial script, typed results, sessions, errors in the
library's own words (and the CLI's), and a CLI that uses nothing else."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.time import Time
from conftest import TUTORIAL_CONE, sky_cone, snapshot
from typer.testing import CliRunner

from obscat import (
    Catalog,
    DatabaseError,
    FeatureSetRemoval,
    FeatureSetSummary,
    GroupingSummary,
    InputError,
    ParameterError,
    PointingReport,
)
from obscat.cli.app import app
from obscat.query import Ids
from obscat.store.models import OBSERVATION_COLUMNS, FeatureSet, FeatureValue, Grouping, GroupMember, Observation

REPO = Path(__file__).resolve().parent.parent
TUTORIAL = sky_cone(*TUTORIAL_CONE)
GAMMAPY_SELECTION = dict(type="sky_circle", frame="icrs", lon="329.71693826 deg", lat="-30.2255 deg", radius="2 deg")


def _gammapy_tutorial(hess_dir: Path) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Gammapy's own tutorial, run live: the zenith split and the two IRF clusters (obs ids by label)."""
    from gammapy.data import DataStore
    from gammapy.data.utils import get_irfs_features
    from gammapy.utils.cluster import hierarchical_clustering, standard_scaler

    store = DataStore.from_dir(hess_dir)
    table = store.obs_table.select_observations(GAMMAPY_SELECTION)
    observations = store.get_observations(table["OBS_ID"])
    median = np.median(table["ZEN_PNT"].to(u.deg))
    zenith: dict[str, list[int]] = {}
    for obs in observations:
        low = obs.get_pointing_altaz(time=obs.tmid).zen < median
        zenith.setdefault("low_zenith" if low else "high_zenith", []).append(int(obs.obs_id))
    position = SkyCoord(329.71693826 * u.deg, -30.2255890 * u.deg, frame="icrs")
    features = get_irfs_features(observations, energy_true="1 TeV", position=position,
                                 names=["edisp-res", "psf-radius"])  # fmt: skip
    scaled = standard_scaler(features)
    labels = hierarchical_clustering(scaled, linkage_kwargs={"method": "ward"},
                                     fcluster_kwargs={"t": 2, "criterion": "maxclust"})["labels"]  # fmt: skip
    clusters: dict[str, list[int]] = {}
    for obs_id, label in zip(features["obs_id"], labels):
        clusters.setdefault(f"cluster_{label}", []).append(int(obs_id))
    return zenith, {k: sorted(v) for k, v in clusters.items()}


def test_tutorial_script_gives_gammapys_groups(db_url, hess_dir, tmp_path):
    """docs/examples/tutorial.py, run as a user runs it (fresh catalogue, $GAMMAPY_DATA), stores and exports
    exactly the groups of Gammapy's tutorial, and writes its figure."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "GAMMAPY_DATA": str(hess_dir.parent), "OBSCAT_DB_URL": db_url,
           "MPLBACKEND": "Agg"}  # fmt: skip
    run = subprocess.run([sys.executable, str(REPO / "docs" / "examples" / "tutorial.py")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr
    zenith, clusters = _gammapy_tutorial(hess_dir)
    lines = run.stdout.splitlines()
    assert lines[0] == "21 observations, 7.23 < zenith < 50.42 deg"  # the tutorial's printed range
    assert eval(lines[1]) == {k: sorted(v) for k, v in zenith.items()}  # noqa: S307 - our own printed dict
    assert eval(lines[2]) == clusters  # noqa: S307
    assert lines[3:5] == [f"irf-groups/{label}" for label in sorted(clusters)]
    assert lines[5] == f"{len(clusters['cluster_1'])} observations of cluster_1 open in Gammapy"
    assert (tmp_path / "irf-clusters.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Catalog(db_url) as cat:
        members = cat.grouping("irf").groups
        assert members == clusters and [g.name for g in cat.groupings()] == ["irf", "zenith"]


def test_select_is_gammapys_observation_table(hess, hess_dir):
    """`select`: store, obs_id, pointing_radec (SkyCoord) and time_start/time_stop (Time) equal to Gammapy's
    ObservationTable columns of the same selection; then the requested columns with units."""
    from gammapy.data import DataStore

    expected = DataStore.from_dir(hess_dir).obs_table.select_observations(GAMMAPY_SELECTION)
    table = hess.select(GAMMAPY_SELECTION, columns=["zen_pnt_deg", "livetime_s"])
    assert table.colnames == ["store", "obs_id", "pointing_radec", "time_start", "time_stop", "zen_pnt_deg",
                              "livetime_s"]  # fmt: skip
    assert list(table["obs_id"]) == sorted(expected["OBS_ID"]) and set(table["store"]) == {"hess"}
    order = np.argsort(expected["OBS_ID"])
    assert isinstance(table["pointing_radec"], SkyCoord) and table["pointing_radec"].frame.name == "icrs"
    theirs = expected.pointing_radec[order]  # float32, as in the FITS file: compared in float64
    np.testing.assert_array_equal(table["pointing_radec"].ra.deg, theirs.ra.deg.astype(float))
    np.testing.assert_array_equal(table["pointing_radec"].dec.deg, theirs.dec.deg.astype(float))
    for ours, theirs in ((table["time_start"], expected.time_start[order]), (table["time_stop"], expected.time_stop[order])):
        assert isinstance(ours, Time) and np.all(np.abs((ours - theirs).to_value(u.s)) < 1e-6)
    assert table["zen_pnt_deg"].unit == u.deg and table["livetime_s"].unit == u.s
    bare = hess.select(TUTORIAL, store="hess", columns=[])
    assert len(bare) == 21 and bare.colnames == ["store", "obs_id", "pointing_radec", "time_start", "time_stop"]
    assert hess.select(TUTORIAL).colnames[5:] == [c for c in OBSERVATION_COLUMNS if c != "obs_id"]


def test_sql_returns_a_table_with_units(hess):
    table = hess.sql("SELECT o.obs_id, o.zen_pnt_deg, p.obs_id FROM observation o JOIN observation p ON p.id = o.id "
                     "WHERE o.zen_pnt_deg < :z ORDER BY o.obs_id", {"z": 20}, limit=3)  # fmt: skip
    assert table.colnames == ["obs_id", "zen_pnt_deg", "obs_id_2"] and table["zen_pnt_deg"].unit == u.deg
    expected = sorted(hess.observations(columns=["obs_id", "zen_pnt_deg"]), key=lambda r: r["obs_id"])
    assert list(table["obs_id"]) == list(table["obs_id_2"]) == [r["obs_id"] for r in expected if r["zen_pnt_deg"] < 20][:3]
    with pytest.raises(InputError, match="^obscat sql is read-only: DELETE statements are refused"):
        hess.sql("DELETE FROM observation")


def test_results_are_frozen_dataclasses(hess):
    report = hess.compute_pointing(TUTORIAL)
    assert report == PointingReport(21, [], 21, 21)
    features = hess.compute_features(1 * u.TeV, features=["psf-radius"], fixed_offset=0.5 * u.deg, selection=TUTORIAL)
    (summary,) = hess.feature_sets()
    assert isinstance(summary, FeatureSetSummary) and summary.name == features.meta["feature_set"]
    assert (summary.energy_true, summary.fixed_offset, summary.position) == (1 * u.TeV, 0.5 * u.deg, None)
    assert (summary.n_obs, summary.n_null, summary.n_stale) == (21, 0, 0)
    got = hess.feature_set(summary.name)
    assert got["psf-radius"].unit == u.deg and list(got["psf-radius"]) == list(features["psf-radius"])
    assert list(hess.feature_set(summary.name, selection=Ids([33790, 33787, 20136]))["obs_id"]) == [33787, 33790]
    hess.split("zenith", "zen_tmid_deg", selection=TUTORIAL)
    (grouping,) = hess.groupings()
    assert isinstance(grouping, GroupingSummary) and (grouping.name, grouping.method, grouping.n_groups,
                                                      grouping.n_obs) == ("zenith", "split", 2, 21)  # fmt: skip
    with pytest.raises(AttributeError):
        grouping.n_obs = 3  # frozen
    assert hess.delete_feature_set(summary.name) == FeatureSetRemoval(summary.name, 21, 21)
    assert hess.feature_sets() == []


def _derive(cat: Catalog) -> str:
    name = cat.compute_features("1 TeV", features=["psf-radius"], fixed_offset="0.5 deg",
                                selection=TUTORIAL).meta["feature_set"]  # fmt: skip
    cat.split("zenith", "zen_pnt_deg", selection=TUTORIAL)
    return name


def test_read_only_session_joins_observations_features_and_groups(hess):
    """The README's ORM example: a group's members with a feature value, in a read-only session."""
    name = _derive(hess)
    with hess.session() as session:
        rows = session.execute(
            sa.select(GroupMember.label, Observation.obs_id, FeatureValue.value)
            .join(GroupMember.grouping).join(GroupMember.observation)
            .join(FeatureValue, FeatureValue.observation_id == Observation.id).join(FeatureValue.feature_set)
            .where(Grouping.name == "zenith", FeatureSet.name == name, FeatureValue.feature == "psf-radius")
            .order_by(GroupMember.label, Observation.obs_id)
        ).all()  # fmt: skip
    groups = hess.grouping("zenith").groups
    assert [(label, obs_id) for label, obs_id, _ in rows] == [(k, o) for k in sorted(groups) for o in groups[k]]
    values = dict(zip(hess.feature_set(name)["obs_id"], hess.feature_set(name)["psf-radius"]))
    assert [value for _, obs_id, value in rows] == [values[obs_id] for _, obs_id, _ in rows]


def test_read_only_session_refuses_writes_and_changes_nothing(hess, db_url):
    _derive(hess)
    before = snapshot(db_url)
    message = "the session is read-only: pass `write=True` to write"
    with pytest.raises(DatabaseError, match=f"^{re.escape(message)} \\(objects were added, changed or deleted\\)$"):
        with hess.session() as session:
            session.scalars(sa.select(Observation).where(Observation.obs_id == 33787)).one().object = "changed"
    with pytest.raises(DatabaseError, match=f"^{re.escape(message)} \\(.*read-?only.*\\)$"):
        with hess.session() as session:
            session.execute(sa.delete(GroupMember))
    with pytest.raises(DatabaseError, match=f"^{re.escape(message)} "):
        with hess.session() as session:
            session.scalars(sa.select(Grouping)).one().name = "renamed"
            session.flush()
    assert snapshot(db_url) == before
    hess.rename_grouping("zenith", "z")  # the pooled connection writes again after a read-only session
    assert [g.name for g in hess.groupings()] == ["z"]


def test_read_only_session_takes_no_writer_lock(hess, db_url):
    """Another process's writer goes ahead while a read-only session is open (a writer lock would
    make it wait BUSY_TIMEOUT_S)."""
    _derive(hess)
    done = []
    with hess.session() as session:
        assert session.scalars(sa.select(Grouping.name)).all() == ["zenith"]  # the transaction has read
        other = threading.Thread(target=lambda: done.append(_rename_elsewhere(db_url)))
        start = time.monotonic()
        other.start()
        other.join(20)
        assert done == [True] and time.monotonic() - start < 15
    assert [g.name for g in hess.groupings()] == ["elsewhere"]


def _rename_elsewhere(url: str) -> bool:
    with Catalog(url) as cat:
        cat.rename_grouping("zenith", "elsewhere")
    return True


def test_write_session_commits_all_or_nothing(hess, db_url):
    with hess.session(write=True) as session:
        session.scalars(sa.select(Observation).where(Observation.obs_id == 33787)).one().object = "renamed"
    assert list(hess.observations(Ids([33787]), columns=["object"])["object"]) == ["renamed"]
    before = snapshot(db_url)
    with pytest.raises(RuntimeError, match="^stop$"):
        with hess.session(write=True) as session:
            session.scalars(sa.select(Observation).where(Observation.obs_id == 33788)).one().object = "lost"
            session.flush()
            raise RuntimeError("stop")
    assert snapshot(db_url) == before


@pytest.mark.parametrize(
    ("call", "library", "args", "cli"),
    [
        (lambda c: c.cluster("x", ["psf-radius"], feature_set="fs", n_groups=2, max_distance=1.0),
         "give one of `n_groups`, `max_distance`, `inconsistent` or `max_spread`",
         ["group", "cluster", "--name", "x", "-F", "psf-radius", "--feature-set", "fs", "-k", "2", "--max-distance", "1"],
         "give one of --n-groups, --max-distance, --inconsistent or --max-spread"),
        (lambda c: c.cluster("x", ["psf-radius"], feature_set="fs", n_groups=2, method="median"),
         "`method='median'` is not a linkage method (ward, single, complete, average)",
         ["group", "cluster", "--name", "x", "-F", "psf-radius", "--feature-set", "fs", "-k", "2", "--method", "median"],
         "--method median is not a linkage method (ward, single, complete, average)"),
        (lambda c: c.cluster("x", ["psf-radius"], n_groups=2),
         "give `feature_set` (a stored feature set) or `energy_true` (to compute one), not both or neither",
         ["group", "cluster", "--name", "x", "-F", "psf-radius", "-k", "2"],
         "give --feature-set (a stored feature set) or --energy-true (to compute one), not both or neither"),
        (lambda c: c.compute_features("1 TeV", fixed_offset=-1),
         "`fixed_offset` must be a non-negative angle, not -1.0 deg",
         ["features", "compute", "-e", "1 TeV", "--offset", "-1"], "--offset must be a non-negative angle, not -1.0 deg"),
        (lambda c: c.compute_features("1 TeV", containment_fraction=1.5),
         "`containment_fraction` must be between 0 and 1, not 1.5",
         ["features", "compute", "-e", "1 TeV", "--containment", "1.5"], "--containment must be between 0 and 1, not 1.5"),
        (lambda c: c.split("zenith", "zen_pnt_deg"),
         "a grouping named 'zenith' exists: pass `replace=True` to overwrite it",
         ["group", "split", "zen_pnt_deg", "--name", "zenith"],
         "a grouping named 'zenith' exists: pass --replace to overwrite it"),
        (lambda c: c.bins("b", "zen_pnt_deg", [20, 10]), "`edges` must be at least two increasing numbers, got [20.0, 10.0]",
         ["group", "bins", "zen_pnt_deg", "--name", "b", "--edges", "20,10"],
         "--edges must be at least two increasing numbers, got [20.0, 10.0]"),
        (lambda c: c.ingest(obs_index="x.fits"), "give both `obs_index` and `hdu_index`, or a directory",
         ["ingest", "--obs-index", "x.fits"], "give both --obs-index and --hdu-index, or a directory"),
        (lambda c: c.ingest(), "give a data store directory (`path`), or `obs_index` and `hdu_index`",
         ["ingest"], "give a data store directory (PATH), or --obs-index and --hdu-index"),
        (lambda c: c.observation(23523), "OBS_ID 23523 exists in stores copy, hess: pass `store`",
         ["obs", "show", "23523"], "OBS_ID 23523 exists in stores copy, hess: pass --store"),
    ],
)
def test_errors_quote_python_parameters_and_the_cli_its_flags(hess, hess_dir, db_url, call, library, args, cli):
    hess.split("zenith", "zen_pnt_deg")
    if args[0] == "obs":
        hess.ingest(hess_dir, name="copy")
    before = snapshot(db_url)
    with pytest.raises(ParameterError) as refused:
        call(hess)
    assert str(refused.value) == library
    result = CliRunner().invoke(app, ["--db", db_url, *args])
    assert (result.exit_code, result.stderr) == (1, f"Error: {cli}\n")
    assert snapshot(db_url) == before


def test_cli_uses_only_the_public_api():
    """obscat/cli/ opens no engine, writes no SQL and imports no store/compute/group internals, only
    presentation helpers and schema constants named here; growth fails this test."""
    allowed = {
        "store.config": {"ENV_VAR", "resolve_url"},  # the --db option's environment variable
        "store.schema": {"migrate", "current_revision", "grant_read_only", "alembic_config"},  # obscat db
        "store.engine": {"display_url"},
        "group.points": {"parse_at", "Median"},  # --at text to a split point; the demo's split
        "store.models": {"SCHEMA_REVISION", "OBSERVATION_COLUMNS"},
        "compute.feature_names": {"DEFAULT_FEATURES", "FEATURES"},  # help texts
        "gadf.synthetic": {"make_data_store"},  # the demo's sample data
    }
    found = {}
    for path in sorted((REPO / "obscat" / "cli").glob("*.py")):
        text = path.read_text()
        for pattern in (r"(?<!store)\.engine\b", r"\bsqlalchemy\b", r"\bsa\.", r"\bimport sqlalchemy"):
            assert not re.search(pattern, text), f"{path.name}: {pattern}"
        for layer, module, names in re.findall(r"from \.\.(store|compute|group|gadf)\.(\w+) import ([^\n]+)", text):
            found.setdefault(f"{layer}.{module}", set()).update(n.strip() for n in names.split(","))
        assert not re.search(r"^\s*(from|import) obscat\.(store|compute|group|gadf)\b", text, re.M), path.name
        assert not re.search(r"from \.\.(store|compute|group|gadf) import", text), path.name
    assert all(module in allowed and names <= allowed[module] for module, names in found.items()), found
