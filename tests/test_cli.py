"""The command line: help everywhere, exact output formats, exact error text."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from obscat import Catalog
from obscat.cli.app import app
from obscat.query import Where

OVERVIEW = Path(__file__).resolve().parent.parent / "docs" / "commands.md"


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, list(args), env=env)


def _commands(group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))


COMMANDS = sorted(_commands(get_command(app)))


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command):
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert "Usage: " in result.stdout and " ".join(command) in result.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_is_in_the_command_overview(command):
    assert f"obscat {' '.join(command)}" in OVERVIEW.read_text()


@pytest.fixture
def hess_url(db_url, hess_dir):
    result = run("--db", db_url, "ingest", str(hess_dir), "--name", "hess")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"store 'hess' created: 105 observations, 630 HDUs in 105 files in \d+\.\d\d s\n", result.stdout)
    return db_url


def test_ingest_twice_says_unchanged(hess_url, hess_dir):
    result = run("--db", hess_url, "ingest", str(hess_dir), "--name", "hess")
    assert result.stdout == "store 'hess' is unchanged (105 observations): nothing to do\n"


def test_stores_table_csv_json(hess_url, magic_dir):
    run("--db", hess_url, "ingest", str(magic_dir), "--name", "magic")
    table = run("--db", hess_url, "stores").stdout
    lines = table.splitlines()
    assert lines[0].split()[:5] == ["name", "n_obs", "n_hdu", "n_files", "n_missing_files"]
    assert lines[2].split()[:5] == ["hess", "105", "630", "105", "0"]
    assert lines[3].split()[:5] == ["magic", "2", "10", "2", "0"]
    rows = list(csv.DictReader(io.StringIO(run("--db", hess_url, "stores", "--format", "csv").stdout)))
    assert [(r["name"], r["n_obs"], r["telescope"]) for r in rows] == [("hess", "105", "HESS"), ("magic", "2", "MAGIC")]
    lines = run("--db", hess_url, "stores", "-f", "json").stdout.splitlines()  # NDJSON, as every json output
    assert [json.loads(line)["n_hdu"] for line in lines] == [630, 10]


def test_obs_list_formats_agree_with_database(hess_url):
    with Catalog(hess_url) as cat:
        expected = cat.observations(store="hess")
    rows = list(csv.DictReader(io.StringIO(run("--db", hess_url, "obs", "list", "--format", "csv").stdout)))
    assert len(rows) == 105
    assert [int(r["obs_id"]) for r in rows] == list(expected["obs_id"])
    assert [float(r["zen_pnt_deg"]) for r in rows] == list(expected["zen_pnt_deg"])  # full precision
    assert rows[0]["nsblevel"] == ""  # NULL
    lines = run("--db", hess_url, "obs", "list", "-f", "json", "-c", "obs_id,muoneff").stdout.splitlines()
    records = [json.loads(line) for line in lines]  # NDJSON: one object per line
    assert len(records) == 105
    assert records[0] == {"store": "hess", "obs_id": 20136, "muoneff": float(expected["muoneff"][0])}
    assert [r["obs_id"] for r in records] == list(expected["obs_id"])
    table = run("--db", hess_url, "obs", "list", "--store", "hess", "--all").stdout.splitlines()
    assert table[0].split() == ["store", "obs_id", "object", "ra_pnt_deg", "dec_pnt_deg", "zen_pnt_deg",
                                "livetime_s", "tstart_utc", "n_tels", "quality", "muoneff"]
    assert len(table) == 2 + 105
    widths = {len(line) for line in table[2:]}
    assert len(widths) == 1  # aligned


def test_obs_list_table_shows_first_rows_and_counts_the_rest(hess_url):
    with Catalog(hess_url) as cat:
        obs_ids = list(cat.observations(store="hess")["obs_id"])
    table = run("--db", hess_url, "obs", "list").stdout.splitlines()
    assert len(table) == 2 + 50 + 1
    assert [int(line.split()[1]) for line in table[2:52]] == obs_ids[:50]
    assert table[-1] == "… 55 more rows (--limit N or --all to print them)"
    table = run("--db", hess_url, "obs", "list", "--limit", "3", "-c", "obs_id").stdout.splitlines()
    assert [line.split() for line in table[2:5]] == [["hess", str(i)] for i in obs_ids[:3]]
    assert table[5:] == ["… 102 more rows (--limit N or --all to print them)"]
    assert run("--db", hess_url, "obs", "list", "--limit", "105").stdout.splitlines()[-1].split()[0] == "hess"
    assert len(run("--db", hess_url, "obs", "list", "-f", "csv", "--limit", "7").stdout.splitlines()) == 1 + 7
    assert len(run("--db", hess_url, "obs", "list", "-f", "json", "--all").stdout.splitlines()) == 105


def test_obs_show(hess_url):
    result = run("--db", hess_url, "obs", "show", "23523")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert any(line.split()[:3] == ["ra_pnt_deg", "83.6333", "deg"] for line in lines)
    assert any(line.split()[:2] == ["object", "Crab"] for line in lines)
    assert sum("hess_dl3_dr1_obs_id_023523.fits.gz" in line for line in lines) == 6


def test_obs_errors(hess_url):
    result = run("--db", hess_url, "obs", "show", "1")
    assert (result.exit_code, result.stderr) == (1, "Error: no observation with OBS_ID 1\n")
    result = run("--db", hess_url, "obs", "list", "--store", "nope")
    assert (result.exit_code, result.stderr) == (1, "Error: no store 'nope' (stores: hess)\n")
    result = run("--db", hess_url, "obs", "list", "--columns", "obs_id,drop table")
    assert (result.exit_code, result.stderr) == (1, "Error: unknown observation column 'drop table'\n")
    result = run("--db", hess_url, "remove", "nope")
    assert (result.exit_code, result.stderr) == (1, "Error: no store 'nope' (stores: hess)\n")


def test_remove_store(hess_url):
    assert run("--db", hess_url, "remove", "hess").stdout == "removed store 'hess' (105 observations)\n"
    assert run("--db", hess_url, "stores", "-f", "csv").stdout.splitlines()[1:] == []


def test_url_from_environment_and_default(tmp_path, monkeypatch, hess_dir):
    url = f"sqlite:///{tmp_path / 'env.db'}"
    assert run("ingest", str(hess_dir), env={"OBSCAT_DB_URL": url}).exit_code == 0
    assert (tmp_path / "env.db").exists()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OBSCAT_DB_URL", raising=False)
    assert run("stores").exit_code == 0
    assert (tmp_path / "obscat.db").exists()  # the default: ./obscat.db


def test_usage_error_exit_code():
    result = run("obs", "show", "not-a-number")
    assert result.exit_code == 2 and "Invalid value" in result.stderr


def test_cold_start_imports_no_astropy_numpy_scipy(tmp_path):
    """`obscat stores` must start fast: the science stack is imported only where needed."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'c.db'}"
    code = ("import sys; from obscat.cli.app import app; "
            f"app(['--db', {url!r}, 'stores'], standalone_mode=False); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'astropy', 'numpy', 'scipy', 'alembic'}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "['alembic']"  # alembic only to create the new file
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "[]"  # an existing catalogue needs none of them


def test_demo_runs_the_whole_workflow(db_url, tmp_path):
    """`obscat demo`: every step prints; the groupings, quality table, epochs and OFF match are stored;
    Gammapy-ready exports and five figures written."""
    from gammapy.data import DataStore

    result = run("--db", db_url, "demo", "--dir", str(tmp_path), "--n-obs", "90")
    assert result.exit_code == 0, result.output
    steps = re.findall(r"^(\d+)\. ", result.stdout, flags=re.M)
    assert steps == [str(i) for i in range(1, 15)]
    with Catalog(db_url) as cat:
        assert [s.n_obs for s in cat.stores()] == [90]
        groups = {g: _members(cat, g) for g in ("demo-zenith", "demo-irf", "demo-epoch", "demo-off")}
        assert [(a.name, a.version, a.n_matched) for a in cat.annotation_sets()] == [("dq", 1, 90)]
        cut = Where("cone(329.7169, -30.2256, 3) and dq.light_yield > 70 and dq.weather <= 'B' and (dq.vpm_mask & 4) == 0")
        assert f"the cut keeps {len(cat.select(cut))} observations of {len(groups['demo-irf'])}" in result.stdout
        assert sorted(cat.epochs()["name"]) == ["early", "late"]
        pairs = cat.match_pairs("demo-off")
    assert sorted(groups["demo-zenith"]) == sorted(groups["demo-irf"])  # both group the same cone selection
    assert sorted(groups["demo-epoch"]) == sorted(groups["demo-irf"])
    assert {label for label in groups["demo-epoch"].values()} == {"epoch_early", "epoch_late"}
    assert sorted(o for o, label in groups["demo-off"].items() if label == "on") == sorted(groups["demo-irf"])
    assert set(pairs["off_obs_id"]) == {o for o, label in groups["demo-off"].items() if label == "off"}
    assert not set(pairs["off_obs_id"]) & set(groups["demo-irf"])  # OFF runs are other fields'
    assert "observation " in result.stdout and " left out by the selection" in result.stdout  # the explained drop
    exported = sorted(p.name for p in (tmp_path / "export").iterdir())
    assert exported == ["cluster_1", "cluster_2", "grouping.json"]
    opened = DataStore.from_dir(tmp_path / "export" / "cluster_1")
    assert sorted(opened.obs_table["OBS_ID"]) == sorted(o for o, label in groups["demo-irf"].items() if label == "cluster_1")
    for name in ("zenith-muoneff.png", "irf-clusters.png", "sky.png", "dendrogram.png", "off-match.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG", name


def _members(cat, name: str) -> dict[int, str]:
    from obscat.group.grouping import grouping_rows

    return {obs_id: label for _, obs_id, label in grouping_rows(cat.engine, name).members}


def test_tables_print_hostile_text_as_data(catalog, db_url, magic_dir, capsys):
    """Rich markup in a stored name and terminal escapes in a value are shown literally/escaped, not
    interpreted; an error quoting a 100 kB name stays one line of bounded length."""
    from obscat.cli.output import render

    catalog.ingest(magic_dir, name="[bold red]x")
    assert "[bold red]x" in run("--db", db_url, "stores").stdout
    render(["object"], [("Crab\x1b[31m\x00",)])
    shown = capsys.readouterr().out
    assert "Crab\\x1b[31m\\x00" in shown and "\x1b" not in shown
    long = run("--db", db_url, "groups", "show", "n" * 100_000)
    assert long.exit_code == 1 and long.stderr.count("\n") == 1 and len(long.stderr) < 2100
    assert "characters]…" in long.stderr



@pytest.mark.parametrize("args", [["select", "--format", "ids"], ["obs", "show", "20136"], ["obs", "list"]],
                         ids=" ".join)  # fmt: skip
def test_a_closed_pipe_stops_quietly(hess_url, args):
    """`obscat select -f ids | head -1`: the reader goes away; exit 1 with nothing on stderr, as click
    and rich do (no `Error: BrokenPipeError`, no traceback)."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "obscat", "--db", hess_url, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip
    proc.stdout.close()  # before obscat writes: every write meets a closed pipe
    _, stderr = proc.communicate(timeout=60)
    assert (proc.returncode, stderr.decode()) == (1, "")
