"""Offline feature shards: plan → run (no database, parallel processes) → import equals a direct run;
imports are idempotent; tampered shards and changed files are refused with the database unchanged."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from astropy import units as u
from astropy.coordinates import SkyCoord
from conftest import REPO, snapshot
from typer.testing import CliRunner

from obscat import InputError, run_manifest
from obscat.cli.app import app
from obscat.compute.feature_tasks import Task
from obscat.compute.shard_plan import split_tasks
from obscat.gadf.synthetic import make_data_store

POSITION = SkyCoord(329.71693826 * u.deg, -30.2255890 * u.deg)
#: Every feature: on HESS (full-enclosure IRFs) rad-max is NULL with its reason.
ALL = ["edisp-res", "edisp-bias", "psf-radius", "aeff", "aeff-max", "energy-threshold", "bkg-rate", "rad-max"]
#: A database no command may need: connecting to it fails.
NOWHERE = "postgresql://nobody@127.0.0.1:1/none"


def _values(catalog) -> list[tuple]:
    """Every stored value with its observation's store and OBS_ID, and the file versions recorded."""
    with catalog.engine.connect() as conn:
        values = conn.execute(sa.text(
            "SELECT s.name, d.name, o.obs_id, v.feature, v.value, v.unit, v.null_reason, v.offset_deg "
            "FROM feature_value v JOIN feature_set s ON s.id = v.feature_set_id "
            "JOIN observation o ON o.id = v.observation_id JOIN data_store d ON d.id = o.store_id "
            "ORDER BY s.name, d.name, o.obs_id, v.feature")).all()  # fmt: skip
        uses = conn.execute(sa.text(
            "SELECT o.obs_id, u.path, u.size_bytes, u.mtime_ns, u.crc32 FROM file_use u "
            "JOIN observation o ON o.id = u.observation_id ORDER BY o.obs_id, u.path")).all()  # fmt: skip
    return [tuple(r) for r in values] + [tuple(r) for r in uses]


def _direct_then_delete(catalog, **kwargs) -> list[tuple]:
    """The rows a direct compute_features run stores; the set is deleted again."""
    table = catalog.compute_features("1 TeV", **kwargs)
    rows = _values(catalog)
    catalog.delete_feature_set(table.meta["feature_set"])
    assert _values(catalog) == []
    return rows


def _run_in_parallel(manifests: list[Path], out: Path) -> list[Path]:
    """``python -m obscat features run`` on each manifest, all started together, with a database that does not exist."""
    shards = [out / (m.stem + ".ecsv") for m in manifests]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OBSCAT_DB_URL": NOWHERE}
    procs = [subprocess.Popen([sys.executable, "-m", "obscat", "--db", NOWHERE, "features", "run", str(m), "-o", str(s),
                               "-j", "1"], env=env, cwd=out, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for m, s in zip(manifests, shards, strict=True)]  # fmt: skip
    for proc, shard in zip(procs, shards, strict=True):
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        assert stdout == f"wrote {shard}\n"
    return shards


def test_plan_three_shards_run_in_parallel_import_equals_a_direct_run(hess, db_url, tmp_path):
    direct = _direct_then_delete(hess, features=ALL, position=POSITION, workers=2)
    assert any(row[6] for row in direct[:-1]) and any(row[4] is not None for row in direct[:-1])  # values and NULL reasons
    plan = hess.plan_features(tmp_path / "plan", 3, "1 TeV", features=ALL, position=POSITION)
    assert [p.name for p in plan.paths] == [f"shard-000{i}-of-0003.json" for i in (1, 2, 3)]
    assert plan.n_obs == 105 and plan.n_kept == 0
    sizes = [len(json.loads(p.read_text())["observations"]) for p in plan.paths]
    assert sizes == [35, 35, 35]  # one file per HESS observation: perfectly balanced
    shards = _run_in_parallel(list(plan.paths), tmp_path)
    assert not (tmp_path / "obscat.db").exists()
    result = hess.import_features(shards)
    assert (result.n_shards, result.n_obs, result.n_values) == (3, 105, 105 * len(ALL))
    assert _values(hess) == direct  # bit-identical values, NULL reasons, offsets and file versions

    before = snapshot(db_url)
    again = CliRunner().invoke(app, ["--db", db_url, "features", "import", str(shards[1]), str(shards[1])])
    assert again.exit_code == 0, again.output
    assert again.stdout == f"imported 2 shards: 35 observations, {35 * len(ALL)} values into feature set {result.feature_sets[0]}\n"
    after = snapshot(db_url)
    assert len(after["feature_set"]) == 1 and _values(hess) == direct  # the set's time is the import's
    for state in before, after:
        state.pop("feature_set")
        state["file_use"] = sorted(row[1:] for row in state["file_use"])  # its ids are new
    assert after == before


def test_shared_irf_files_stay_in_one_shard_and_the_result_equals_a_direct_run(catalog, tmp_path):
    catalog.ingest(make_data_store(tmp_path / "c", 24, layout="caldb"), name="c")
    features = ["edisp-res", "psf-radius", "aeff", "bkg-rate"]
    direct = _direct_then_delete(catalog, features=features, fixed_offset=0.5 * u.deg, workers=1)
    plan = catalog.plan_features(tmp_path / "plan", 3, "1 TeV", features=features, fixed_offset=0.5 * u.deg)
    per_file: dict[str, set[int]] = {}
    for i, path in enumerate(plan.paths):
        manifest = json.loads(path.read_text())
        assert len(manifest["observations"]) == 8
        for obs in manifest["observations"]:
            for hdu in obs["hdus"].values():
                per_file.setdefault(hdu["path"], set()).add(i)
    with catalog.engine.connect() as conn:
        n_obs = dict(conn.execute(sa.text("SELECT path, count(DISTINCT observation_id) FROM hdu_location "
                                          "WHERE hdu_type = 'aeff' GROUP BY path")).all())  # fmt: skip
    assert sorted(n_obs.values()) == [2, 2, 8, 12]  # four shared IRF files (one per zenith)
    # each file in as few shards as 8 observations per shard allow: the 12-observation one in two
    assert {path: len(shards) for path, shards in per_file.items()} == {p: -(-n // 8) for p, n in n_obs.items()}
    shards = [run_manifest(p, tmp_path / f"{p.stem}.ecsv", workers=1) for p in plan.paths]
    catalog.import_features(shards)
    assert _values(catalog) == direct


def test_split_tasks_balances_and_splits_only_groups_larger_than_a_shard():
    def tasks(first: int, n: int, file: str) -> list[Task]:
        return [Task(i, i, {"aeff": ("aeff_2d", file, "AEFF")}) for i in range(first, first + n)]

    all_tasks = tasks(0, 5, "a") + tasks(5, 3, "b") + tasks(8, 3, "c") + tasks(11, 1, "d")
    parts = split_tasks(all_tasks, 3)
    assert [[t.observation_id for t in part] for part in parts] == [[0, 1, 2, 3], [4, 8, 9, 10], [5, 6, 7, 11]]
    assert [len(p) for p in split_tasks(all_tasks[:2], 4)] == [1, 1, 0, 0]  # more shards than observations: empty ones
    linked = [Task(0, 0, {"aeff": ("", "x", ""), "psf": ("", "y", "")}), *tasks(1, 1, "y"), *tasks(2, 1, "z")]
    assert sorted(len(p) for p in split_tasks(linked, 2)) == [1, 2]  # x-y-y chained: one group


@pytest.fixture
def synthetic(catalog, tmp_path):
    """A caldb store in a temporary directory (its files may be changed), planned in 2 shards and run."""
    store = make_data_store(tmp_path / "c", 6, layout="caldb")
    catalog.ingest(store, name="c")
    plan = catalog.plan_features(tmp_path / "plan", 2, "1 TeV", features=["aeff", "psf-radius"], fixed_offset=0.3)
    shards = [run_manifest(p, tmp_path / f"{p.stem}.ecsv", workers=1) for p in plan.paths]
    return catalog, plan, shards


def _change_content(path: str) -> None:
    """Change a file's bytes, not its size (its mtime moves)."""
    data = bytearray(Path(path).read_bytes())
    data[-9] ^= 0xFF
    Path(path).write_bytes(bytes(data))


def _first_file(manifest: Path) -> str:
    return sorted(json.loads(manifest.read_text())["files"])[0]


def _import(db_url: str, shards: list[Path]):
    return CliRunner().invoke(app, ["--db", db_url, "features", "import", *map(str, shards)])


def _edit(shard: Path, old: str, new: str) -> None:
    text = shard.read_text()
    assert old in text, old
    shard.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(("old", "new", "message"), [
    ("params_sha256: ", "params_sha256: 0", r"params_sha256` 0\w+ is not the sha256 of `params` \(\w+\): the parameters were changed"),
    ("energy_true_tev: 1.0", "energy_true_tev: 2.0", r"`params_sha256` \w+ is not the sha256 of `params`"),
    (' "" 0.3\n', ' "" abc\n', r"not a readable ECSV shard \(row 1, column offset_deg: 'abc' is not a number\)"),
    (" m2 ", " cm2 ", r"row 1: unit 'cm2' of aeff is not 'm2'"),
    (' psf-radius ', ' aeff ', r"row 2: a second row of observation \d+, feature aeff"),
    (' "" 0.3\n', ' "oops" 0.3\n', r"row 1: a row has a value or a null_reason, not both"),
    ("format: obscat feature shard", "format: something", r"not an obscat feature shard of version 1"),
])  # fmt: skip
def test_a_tampered_shard_is_refused_naming_the_problem_and_nothing_is_written(synthetic, db_url, old, new, message):
    _, _, shards = synthetic
    _edit(shards[1], old, new)
    before = snapshot(db_url)
    result = _import(db_url, shards)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"Error: {shards[1]}: ")
    assert re.search(message, result.stderr), result.stderr
    assert snapshot(db_url) == before


def test_a_missing_row_is_refused(synthetic, db_url):
    catalog, _, shards = synthetic
    lines = shards[0].read_text().splitlines(keepends=True)
    shards[0].write_text("".join(lines[:-1]))
    before = snapshot(db_url)
    with pytest.raises(InputError, match=r"1 rows are missing \(first: observation \d+, feature psf-radius\)$"):
        catalog.import_features(shards)
    assert snapshot(db_url) == before


def test_a_file_changed_after_the_run_refuses_the_import_a_touched_one_does_not(synthetic, db_url):
    catalog, plan, shards = synthetic
    changed = _first_file(plan.paths[0])
    os.utime(changed, ns=(1, 1))  # touched: same bytes, so the values still hold
    before = snapshot(db_url)
    _change_content(changed)
    result = _import(db_url, shards)
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {shards[0]}: {changed} changed since the shard was computed: run its "
                             "manifest again; nothing was imported\n")  # fmt: skip
    assert snapshot(db_url) == before
    run = CliRunner().invoke(app, ["--db", NOWHERE, "features", "run", str(plan.paths[0]), "-o", str(shards[0])])
    assert run.exit_code == 1
    assert run.stderr == f"Error: {plan.paths[0]}: {changed} changed since planning: plan the shard again; nothing was computed\n"


def test_a_touched_file_is_not_a_change(synthetic, db_url):
    catalog, plan, shards = synthetic
    touched = _first_file(plan.paths[0])
    os.utime(touched, ns=(10**18, 10**18))
    rerun = run_manifest(plan.paths[0], shards[0].with_name("again.ecsv"), workers=1)
    result = catalog.import_features([rerun, shards[1]])
    assert result.n_obs == 6
    with catalog.engine.connect() as conn:
        mtimes = conn.execute(sa.text("SELECT DISTINCT mtime_ns FROM file_use WHERE path = :p"), {"p": touched}).scalars().all()
    assert mtimes == [10**18]  # the version the rerun read


def test_a_manifest_whose_file_changed_is_refused_by_run_and_nothing_is_written(synthetic, tmp_path):
    _, plan, _ = synthetic
    _change_content(_first_file(plan.paths[1]))
    output = tmp_path / "new.ecsv"
    with pytest.raises(InputError, match=r"changed since planning: plan the shard again; nothing was computed$"):
        run_manifest(plan.paths[1], output)
    assert not output.exists()


def test_an_observation_removed_since_planning_is_refused(synthetic, db_url):
    catalog, _, shards = synthetic
    catalog.remove_store("c")
    before = snapshot(db_url)
    result = _import(db_url, shards)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {shards[0]}: observation OBS_ID ") and result.stderr.endswith(
        " of store 'c' is no longer in the catalogue (removed or replaced since planning): plan it again; "
        "nothing was imported\n")  # fmt: skip
    assert snapshot(db_url) == before


def test_plan_missing_only_and_cli_errors(hess, db_url, tmp_path):
    hess.compute_features("1 TeV", features=["aeff"], obs_ids=[23523, 23526])
    cli = ["--db", db_url, "features", "plan", "-e", "1 TeV", "-F", "aeff", "--store", "hess", "--shards", "2"]
    result = CliRunner().invoke(app, [*cli, "--out", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "planned 103 observations in 2 shards (feature set fs-" + hess.feature_sets()[0].name[3:] + ")"
    result = CliRunner().invoke(app, [*cli, "--out", str(tmp_path / "a")])
    assert result.exit_code == 1
    assert result.stderr == f"Error: --out {tmp_path / 'a'} already holds manifests (shard-0001-of-0002.json): give an empty directory\n"
    result = CliRunner().invoke(app, [*cli, "--out", str(tmp_path / "b"), "--recompute"])
    assert result.stdout.startswith("planned 105 observations in 2 shards")
    result = CliRunner().invoke(app, ["--db", NOWHERE, "features", "run", str(tmp_path / "b" / "shard-0001-of-0002.json"),
                                      "-o", str(tmp_path / "x.csv")])  # fmt: skip
    assert result.exit_code == 1 and result.stderr == f"Error: --output {tmp_path / 'x.csv'} must be an .ecsv file\n"
    result = CliRunner().invoke(app, ["--db", NOWHERE, "features", "run", str(tmp_path / "nope.json"), "-o", "x.ecsv"])
    assert result.stderr == f"Error: {tmp_path / 'nope.json'}: cannot read the manifest (No such file or directory)\n"



def test_run_manifest_needs_no_catalogue(synthetic, tmp_path):
    """``obscat.run_manifest`` in a fresh process: no engine is created, the catalogue module is never imported."""
    _, plan, shards = synthetic
    script = ("import sys, sqlalchemy, obscat\n"
              "sqlalchemy.create_engine = None  # calling it would fail\n"
              "obscat.run_manifest(sys.argv[1], sys.argv[2], workers=1)\n"
              "print('obscat.catalog' in sys.modules)\n")  # fmt: skip
    out = tmp_path / "fresh.ecsv"
    run = subprocess.run([sys.executable, "-c", script, str(plan.paths[0]), str(out)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO), "OBSCAT_DB_URL": NOWHERE}, timeout=300)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout == "False\n"

    def without_time(path: Path) -> str:
        return re.sub(r"computed_at: '[^']+'", "", path.read_text())

    assert without_time(out) == without_time(shards[0])
