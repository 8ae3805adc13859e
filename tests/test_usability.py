"""Frictions a new user meets: database names, empty catalogues, misspellings, output formats."""

from __future__ import annotations

import pytest
from conftest import snapshot
from typer.testing import CliRunner

from obscat import Catalog
from obscat.cli.app import app
from obscat.errors import EmptyCatalogError


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_db_bare_file_name_means_sqlite(tmp_path, monkeypatch, magic_dir):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OBSCAT_DB_URL", raising=False)
    result = run("--db", "catalogue.db", "ingest", str(magic_dir), "--name", "magic")
    assert result.exit_code == 0, result.output
    with Catalog(f"sqlite:///{tmp_path / 'catalogue.db'}") as cat:  # the same file, through its URL
        assert [(s.name, s.n_obs) for s in cat.stores()] == [("magic", 2)]
    (tmp_path / "sub").mkdir()
    assert run("--db", "sub/../catalogue.db", "stores", "-f", "csv").stdout.splitlines()[1].startswith("magic,2,10,")
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["catalogue.db"]


def test_db_url_still_works(db_url, magic_dir):
    assert run("--db", db_url, "ingest", str(magic_dir), "--name", "magic").exit_code == 0
    assert run("--db", db_url, "stores", "-f", "csv").stdout.splitlines()[1].startswith("magic,2,10,")


def test_db_nonsense_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cases = {
        "nodir/x.db": "Error: database 'nodir/x.db' is neither a URL (sqlite:///FILE, postgresql://USER@HOST/DB) "
                      "nor a file name in an existing directory\n",
        ".": "Error: database '.' is a directory, not a file name or URL\n",
        "mysql://u@h/db": "Error: unsupported database URL 'mysql://u@h/db': use sqlite:///FILE or postgresql://USER@HOST/DB\n",
    }  # fmt: skip
    for db, message in cases.items():
        result = run("--db", db, "stores")
        assert (result.exit_code, result.stderr) == (1, message)
    assert list(tmp_path.iterdir()) == []  # nothing created
    (tmp_path / "notes.txt").write_text("not a database\n")
    result = run("--db", "notes.txt", "stores")
    expected = f"Error: cannot open database 'sqlite:///{tmp_path / 'notes.txt'}': file is not a database\n"
    assert (result.exit_code, result.stderr) == (1, expected)
    assert (tmp_path / "notes.txt").read_text() == "not a database\n"  # untouched


EMPTY_COMMANDS = [
    ["select"], ["select", "-f", "ids"], ["obs", "list"], ["obs", "list", "-s", "hess"], ["obs", "show", "23523"],
    ["group", "split", "zen_pnt_deg", "--name", "g"], ["group", "cluster", "--name", "g", "-F", "psf-radius", "-e", "1 TeV"],
    ["features", "compute", "-e", "1 TeV"], ["pointing"], ["remove", "hess"],
]  # fmt: skip


@pytest.mark.parametrize("command", EMPTY_COMMANDS, ids=" ".join)
def test_empty_catalogue_says_run_ingest(db_url, command):
    from obscat.store.config import resolve_url
    from obscat.store.engine import display_url

    Catalog(db_url).close()  # the schema exists, no observation
    before = snapshot(db_url)
    result = run("--db", db_url, *command)
    expected = f"Error: the catalogue is empty: run `obscat ingest` (database {display_url(resolve_url(db_url))})\n"
    assert (result.exit_code, result.stderr) == (1, expected)
    assert snapshot(db_url) == before


def test_empty_catalogue_in_the_library(catalog):
    with pytest.raises(EmptyCatalogError, match=r"^the catalogue is empty: run `obscat ingest` \(database "):
        catalog.observations()
    assert catalog.stores() == []  # a listing of nothing is still an answer


@pytest.mark.parametrize(
    "command",
    [["select", "-s", "hes"], ["select", "-f", "ids", "--store", "hes"], ["obs", "list", "-s", "hes"],
     ["obs", "show", "23523", "-s", "hes"], ["group", "by", "n_tels", "--name", "g", "-s", "hes"],
     ["features", "compute", "-e", "1 TeV", "-s", "hes"], ["pointing", "-s", "hes"], ["remove", "hes"]],
    ids=" ".join,
)  # fmt: skip
def test_unknown_store_lists_the_stores(db_url, hess_dir, magic_dir, command):
    with Catalog(db_url) as cat:
        cat.ingest(hess_dir, name="hess")
        cat.ingest(magic_dir, name="magic")
    before = snapshot(db_url)
    result = run("--db", db_url, *command)
    assert (result.exit_code, result.stderr) == (1, "Error: no store 'hes' (stores: hess, magic)\n")
    assert snapshot(db_url) == before


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["select", "--where", "zen < 30"], "unknown column 'zen' in --where: did you mean 'zen_pnt_deg' or 'zen_tmid_deg'? ("),
        (["select", "--where", "ZEN_PNT < 30"], "unknown column 'ZEN_PNT' in --where: did you mean 'zen_pnt_deg'? ("),
        (["select", "--range", "livetime 0 10"], "unknown column 'livetime': did you mean 'livetime_s'? ("),
        (["group", "split", "zenpntdeg", "--name", "g"], "unknown column 'zenpntdeg': did you mean 'zen_pnt_deg'? ("),
        (["obs", "list", "-c", "obs_id,muonef"], "unknown observation column 'muonef': did you mean 'muoneff'?"),
        (["features", "compute", "-e", "1 TeV", "-F", "psf_radius"], "unknown feature 'psf_radius': did you mean 'psf-radius'? ("),
        (["group", "split", "zenith", "--name", "g"], "unknown column 'zenith' (numeric observation columns: obs_id, "),
    ],
)  # fmt: skip
def test_misspelt_names_get_a_did_you_mean(db_url, magic_dir, command, message):
    with Catalog(db_url) as cat:
        cat.ingest(magic_dir, name="magic")
    before = snapshot(db_url)
    result = run("--db", db_url, *command)
    assert result.exit_code == 1 and result.stderr.startswith(f"Error: {message}"), result.stderr
    assert snapshot(db_url) == before


def test_did_you_mean_in_the_library(catalog, magic_dir):
    from obscat.errors import InputError

    catalog.ingest(magic_dir, name="magic")
    with pytest.raises(InputError, match=r"^unknown observation column 'ra_pnt': did you mean 'ra_pnt_deg'\?$"):
        catalog.observations(columns=["obs_id", "ra_pnt"])


def test_pointing_columns_before_obscat_pointing(db_url, magic_dir):
    with Catalog(db_url) as cat:
        cat.ingest(magic_dir, name="magic")
    before = snapshot(db_url)
    hint = "run `obscat pointing` (obscat.compute.pointing.compute_pointing) first\n"
    split = run("--db", db_url, "group", "split", "zen_tmid_deg", "--name", "g")
    assert (split.exit_code, split.stderr) == (1, f"Error: zen_tmid_deg is not computed for 2 observations: {hint}")
    where = run("--db", db_url, "select", "-f", "ids", "--where", "zen_tmid_deg < 30")
    assert (where.exit_code, where.stderr) == (1, f"Error: zen_tmid_deg is not computed for 2 observations: {hint}")
    assert snapshot(db_url) == before
    assert run("--db", db_url, "pointing", "--obs-id", "5029747").exit_code == 0
    split = run("--db", db_url, "group", "split", "zen_tmid_deg", "--name", "g")
    assert (split.exit_code, split.stderr) == (1, f"Error: zen_tmid_deg is not computed for 1 observation: {hint}")
    assert run("--db", db_url, "select", "-f", "ids", "--where", "zen_tmid_deg < 30", "--obs-id", "5029747").exit_code == 0


def test_obs_show_formats_and_full_precision_times(db_url, hess_dir):
    import csv
    import io
    import json

    with Catalog(db_url) as cat:
        cat.ingest(hess_dir, name="hess")
        obs = cat.observation(23523)
    table = run("--db", db_url, "obs", "show", "23523").stdout.splitlines()
    shown = {line.split()[0]: line.split()[1:] for line in table if line.strip()}
    for column, unit in [("tstart_mjd", "d"), ("tstop_mjd", "d"), ("tstart_s", "s"), ("livetime_s", "s")]:
        assert shown[column] == [repr(getattr(obs, column)), unit]  # every digit, not 6
    assert shown["tstart_mjd"][0] != f"{obs.tstart_mjd:.6g}"
    assert shown["ra_pnt_deg"] == ["83.6333", "deg"]  # other floats keep 6 digits
    listed = list(csv.DictReader(io.StringIO(run("--db", db_url, "obs", "list", "-f", "csv").stdout)))
    row = list(csv.DictReader(io.StringIO(run("--db", db_url, "obs", "show", "23523", "-f", "csv").stdout)))
    assert row == [r for r in listed if r["obs_id"] == "23523"]  # the same row as `obs list`
    record = json.loads(run("--db", db_url, "obs", "show", "23523", "--format", "json").stdout)
    assert (record["store"], record["obs_id"], record["tstart_mjd"]) == ("hess", 23523, obs.tstart_mjd)
    assert sorted(h["hdu_type"] for h in record["hdus"]) == sorted(h.hdu_type for h in obs.hdus)
    assert {h["path"] for h in record["hdus"]} == {str(hess_dir.resolve() / "data" / "hess_dl3_dr1_obs_id_023523.fits.gz")}


def test_select_ids_names_the_store_when_obs_ids_repeat(db_url, magic_dir, hess_dir):
    with Catalog(db_url) as cat:
        cat.ingest(magic_dir, name="magic")
        assert run("--db", db_url, "select", "-f", "ids").stdout == "5029747\n5029748\n"  # unique: OBS_IDs alone
        cat.ingest(magic_dir, name="magic-copy")
        cat.ingest(hess_dir, name="hess")
    result = run("--db", db_url, "select", "-f", "ids", "--obs-id", "5029748", "--obs-id", "23523")
    assert result.stdout == "hess\t23523\nmagic\t5029748\nmagic-copy\t5029748\n"
    assert run("--db", db_url, "select", "-f", "ids", "-s", "magic").stdout == "5029747\n5029748\n"
    nothing = run("--db", db_url, "select", "-f", "ids", "--where", "zen_pnt_deg > 90")
    assert (nothing.exit_code, nothing.stdout) == (0, "")  # no blank line for an empty selection


def test_counts_agree_with_their_nouns(db_url, magic_dir):
    with Catalog(db_url) as cat:
        cat.ingest(magic_dir, name="magic")
    one = run("--db", db_url, "group", "by", "obs_id", "--name", "g", "--obs-id", "5029747")
    assert one.stderr == "grouping 'g': 1 observation in 1 group\n"
    two = run("--db", db_url, "group", "by", "obs_id", "--name", "h")
    assert two.stderr == "grouping 'h': 2 observations in 2 groups\n"  # 7-digit OBS_IDs: not merged by a 6-digit label
    assert "obs_id_5029747" in two.stdout and "obs_id_5029748" in two.stdout
    pointing = run("--db", db_url, "pointing", "--obs-id", "5029747")
    assert pointing.stdout == ("pointing at mid-time stored for 1 observation (0 left NULL); "
                               "GTIs for 1 observation (1 interval)\n")  # fmt: skip
    assert run("--db", db_url, "remove", "magic").stdout == (
        "removed store 'magic' (2 observations); deleted with it: 0 feature values, 3 group memberships, "
        "1 pointing result (groupings changed: g, h)\n")


def test_timestamps_are_utc_aware_on_both_backends(db_url, magic_dir):
    import datetime as dt

    from obscat.store.models import DataStore

    start = dt.datetime.now(dt.UTC)
    with Catalog(db_url) as cat:
        cat.ingest(magic_dir, name="magic")
        cat.group_by("g", "obs_id")
        cat.compute_features("1 TeV", features=["aeff"], workers=1)
        stamps = [cat.stores()[0].ingested_at, cat.groupings()[0].created_at, cat.feature_sets()[0].created_at]
        with cat.session() as session:
            stamps.append(session.query(DataStore).one().ingested_at)
    for stamp in stamps:
        assert stamp.utcoffset() == dt.timedelta(0) and stamp.tzinfo is not None
        assert start - dt.timedelta(seconds=1) <= stamp <= dt.datetime.now(dt.UTC)  # compares: both aware
    listed = run("--db", db_url, "stores", "-f", "csv").stdout.splitlines()[1].split(",")
    assert listed[8] == str(stamps[0]) and listed[8].endswith("+00:00")


def test_demo_output_directory_is_git_ignored():
    import subprocess
    from pathlib import Path

    from typer.main import get_command

    repo = Path(__file__).resolve().parent.parent
    default = next(p.default for p in get_command(app).commands["demo"].params if p.name == "directory")
    paths = [f"{default}/obscat.db", f"{default}/store/obs-index.fits.gz"]
    result = subprocess.run(["git", "-C", str(repo), "check-ignore", "--no-index", *paths], capture_output=True, text=True)
    assert result.stdout.splitlines() == paths, result.stderr  # check-ignore prints the ignored ones
