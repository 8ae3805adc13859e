"""obscat as a package: frozen migrations shipped in the wheel, which works installed
non-editable in a fresh venv, from a directory outside the checkout, on both backends."""

from __future__ import annotations

import ast
import fcntl
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, snapshot, unavailable
from typer.testing import CliRunner

import obscat
from obscat.cli.app import app
from obscat.store.models import SCHEMA_REVISION
from obscat.store.schema import ARCHIVE_PREFIX, alembic_config, migrations_dir

MIGRATIONS = REPO / "migrations"
FROZEN = [*sorted((MIGRATIONS / "versions").glob("*.py")), MIGRATIONS / "migration_archive.py"]
#: What frozen history may import besides the standard library: SQLAlchemy, Alembic, its own helper.
FROZEN_IMPORTS = {"sqlalchemy", "alembic", "migration_archive"}


def _imported(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            modules.add("." * node.level + (node.module or ""))
    return modules


@pytest.mark.parametrize("path", FROZEN, ids=lambda p: p.name)
def test_revisions_import_no_live_package_code(path):
    """A revision must do tomorrow what it did when written: no `obscat` import, no relative import."""
    modules = _imported(path)
    live = sorted(m for m in modules if m.split(".")[0] not in FROZEN_IMPORTS | sys.stdlib_module_names)
    assert live == [], f"{path.name} imports {live}"


def test_alembic_config_is_built_in_code():
    config = alembic_config()
    assert config.config_file_name is None  # no alembic.ini read at run time
    assert Path(config.get_main_option("script_location")) == migrations_dir() == MIGRATIONS
    helper = sys.modules["migration_archive"]  # what the revisions import, loaded from beside them
    assert Path(helper.__file__) == MIGRATIONS / "migration_archive.py"
    assert helper.PREFIX == ARCHIVE_PREFIX  # the archives a downgrade writes are the ones obscat recognises


def test_developers_alembic_command_runs_the_same_migrations(db_url, magic_dir, tmp_path):
    """The checkout's alembic.ini (for `alembic revision` and friends) finds the migrations and
    their frozen helper from any directory: a downgrade to base and back keeps every row."""
    with obscat.Catalog(db_url) as cat:
        cat.ingest(magic_dir, name="magic")
    before = snapshot(db_url)

    def alembic(*args: str) -> str:
        command = [sys.executable, "-m", "alembic", "-c", REPO / "alembic.ini", *args]
        env = {**os.environ, "OBSCAT_DB_URL": db_url}
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert result.returncode == 0, _tail(result)
        return result.stdout

    alembic("downgrade", "base")
    assert alembic("current") == ""  # at base: no revision
    current = CliRunner().invoke(app, ["--db", db_url, "db", "current"]).stdout
    # data_store, observation (whole, and its 0004 columns), hdu_file (whole, and its 0006 file versions), hdu kept
    assert current.startswith("base (6 archived tables")
    alembic("upgrade", "head")
    assert alembic("current") == f"{SCHEMA_REVISION} (head)\n"
    assert snapshot(db_url) == before


def test_version_option():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"obscat {obscat.__version__}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+", obscat.__version__)
    # eager: printed before any command runs or any database is opened
    result = CliRunner().invoke(app, ["--db", "sqlite:////nonexistent/dir/x.db", "--version", "stores"])
    assert (result.exit_code, result.stdout) == (0, f"obscat {obscat.__version__}\n")


# -- the wheel, installed in a fresh venv ------------------------------------------------------

#: pip's words for "PyPI cannot be reached" (the only reason the wheel test may skip, and not under CI).
_OFFLINE = re.compile(r"NewConnectionError|Temporary failure in name resolution|Network is unreachable|"
                      r"Max retries exceeded|No route to host")  # fmt: skip


def _env() -> dict[str, str]:
    """The environment without the checkout on PYTHONPATH: the venv must run its own installed copy."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "OBSCAT_DB_URL")}


def _run(args: list, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=_env(), capture_output=True, text=True)


def _tail(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> tuple[Path, Path]:
    """``python -m build`` of the checkout (sdist, then the wheel from it), installed
    non-editable with the postgres extra into a new venv: (its bin directory, the wheel).

    Built once per test run: pytest-xdist's workers share it (their common temporary
    directory, under a lock), so two builds never write the checkout's egg-info at once.
    """
    if importlib.util.find_spec("build") is None:
        unavailable("the `build` package is not installed (it is in obscat's test extra)")
    base = tmp_path_factory.getbasetemp()
    work = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "obscat-wheel"
    work.mkdir(exist_ok=True)
    with open(work / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (work / "installed").exists():
            _build_and_install(work)
            (work / "installed").touch()
    (wheel,) = (work / "dist").glob("obscat-*.whl")
    return work / "venv" / "bin", wheel


def _build_and_install(work: Path) -> None:
    shutil.rmtree(work / "dist", ignore_errors=True)  # what a failed attempt left
    shutil.rmtree(work / "venv", ignore_errors=True)
    built = _run([sys.executable, "-m", "build", "--outdir", work / "dist", REPO], work)
    if built.returncode != 0 and _OFFLINE.search(built.stdout + built.stderr):
        unavailable("python -m build could not fetch setuptools (offline?)")
    assert built.returncode == 0, _tail(built)
    (wheel,) = (work / "dist").glob("obscat-*.whl")
    created = _run([sys.executable, "-m", "venv", work / "venv"], work)
    assert created.returncode == 0, _tail(created)
    installed = _run([work / "venv" / "bin" / "python", "-m", "pip", "install", f"{wheel}[postgres]"], work)
    if installed.returncode != 0 and _OFFLINE.search(installed.stdout + installed.stderr):
        unavailable("pip could not reach PyPI to install the wheel's dependencies")
    assert installed.returncode == 0, _tail(installed)


@pytest.mark.slow
def test_wheel_runs_from_a_fresh_venv(venv, db_url, tmp_path):
    """The installed wheel, run outside the checkout, creates a catalogue at head, migrates it
    down to base and back without losing a row, and runs `obscat demo`."""
    from gammapy.data import DataStore

    from obscat.group.grouping import grouping_rows

    bin_dir, wheel = venv

    def obscat_(*args: str) -> str:
        result = _run([bin_dir / "obscat", "--db", db_url, *args], tmp_path)
        assert result.returncode == 0, _tail(result)
        return result.stdout

    where = _run([bin_dir / "python", "-c", "import obscat, obscat.store.schema as d; print(obscat.__file__); print(d.migrations_dir())"],
                 tmp_path).stdout.split()  # fmt: skip
    package = Path(where[0]).parent
    assert package.parent.name == "site-packages" and package.is_relative_to(bin_dir.parent)  # not the checkout
    assert Path(where[1]) == package / "_migrations"
    shipped = sorted(p.name for p in (package / "_migrations" / "versions").glob("*.py"))
    assert shipped == sorted(p.name for p in (MIGRATIONS / "versions").glob("*.py"))

    version = wheel.name.split("-")[1]
    assert obscat_("--version") == f"obscat {version}\n" and version == obscat.__version__
    assert obscat_("stores").startswith("name")  # the first command on a new database creates the catalogue
    assert obscat_("db", "current") == f"{SCHEMA_REVISION} (head)\n"
    assert "-> 0002, feature sets" in obscat_("db", "history")

    demo = obscat_("demo", "--dir", str(tmp_path / "demo"), "--n-obs", "60")
    assert re.findall(r"^(\d+)\. ", demo, flags=re.M) == [str(i) for i in range(1, 15)]
    assert "matplotlib is not installed" in demo  # the plot extra was not installed: the demo says so
    assert sorted(p.name for p in (tmp_path / "demo" / "export").iterdir()) == ["cluster_1", "cluster_2",
                                                                               "grouping.json"]  # fmt: skip
    with obscat.Catalog(db_url) as cat:
        assert [(s.name, s.n_obs) for s in cat.stores()] == [("synthetic", 60)]
        members = {name: {obs_id: label for _, obs_id, label in grouping_rows(cat.engine, name).members}
                   for name in ("demo-zenith", "demo-irf")}  # fmt: skip
    assert sorted(members["demo-zenith"]) == sorted(members["demo-irf"])  # the same cone selection
    exported = DataStore.from_dir(tmp_path / "demo" / "export" / "cluster_1")
    assert sorted(exported.obs_table["OBS_ID"]) == sorted(o for o, label in members["demo-irf"].items()
                                                           if label == "cluster_1")  # fmt: skip

    # revisions before 0010 cannot keep the demo's annotation set: the downgrade says so, changes nothing
    before = snapshot(db_url)
    refused = _run([bin_dir / "obscat", "--db", db_url, "db", "downgrade", "base"], tmp_path)
    assert refused.returncode == 1 and "delete them first (obscat annotate delete NAME)" in refused.stderr
    assert snapshot(db_url) == before
    assert obscat_("annotate", "delete", "dq", "--force") == "deleted annotation set 'dq' (version 1, 60 rows)\n"
    before = snapshot(db_url)
    assert obscat_("db", "downgrade", "base") == "database downgraded to base\n"
    assert obscat_("db", "current").startswith("base (")
    assert obscat_("db", "upgrade") == "database upgraded to head\n"
    assert snapshot(db_url) == before
