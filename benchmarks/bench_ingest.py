"""Ingestion and cold-start speed, obscat against astropy and Gammapy, side by side.

    python benchmarks/bench_ingest.py            # HESS DL3 DR1 + cold start (about 1 min)
    python benchmarks/bench_ingest.py --large    # also 1,000,000 synthetic observations

Gammapy runs from its own venv (``bash benchmarks/reference-env.sh``); without
it the Gammapy rows are left out.  PostgreSQL is taken from
``OBSCAT_BENCH_PG_URL`` (default: the local server).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa
from harness import DATA, GAMMAPY_PYTHON, alternate, have_gammapy, report, run_process, save, synthetic_store, timed

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
OBSCAT_SCRIPT = [str(Path(sys.executable).parent / "obscat")]  # the console script, as users run it


class PgDatabases:
    """Fresh PostgreSQL databases for the benchmark, dropped at exit."""

    def __init__(self, url: str) -> None:
        self.admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        self.base = sa.make_url(url)
        self.names: list[str] = []

    def new(self) -> str:
        name = f"obscat_bench_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        self.names.append(name)
        return self.base.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.names:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.dispose()


def hess_in_process(hess: Path, tmp: Path, pg: PgDatabases, repeat: int) -> list[dict]:
    from astropy.table import Table

    from obscat import Catalog

    def obscat_into(url_factory):
        def case() -> float:
            cat = Catalog(url_factory())  # schema creation is not timed
            try:
                return timed(lambda: cat.ingest(hess, name="hess"))()
            finally:
                cat.close()

        return case

    cases = {
        "astropy Table.read of both index files": timed(
            lambda: (Table.read(hess / "obs-index.fits.gz"), Table.read(hess / "hdu-index.fits.gz"))
        ),
        "obscat ingest() into SQLite": obscat_into(lambda: f"sqlite:///{tmp / uuid.uuid4().hex}.db"),
        "obscat ingest() into PostgreSQL": obscat_into(pg.new),
    }
    timed(cases["obscat ingest() into SQLite"])()  # warm imports and caches
    return report("HESS DL3 DR1 index-only ingest, in process (imports warm)", alternate(cases, repeat),
                  baseline="astropy Table.read of both index files")  # fmt: skip


def hess_processes(hess: Path, tmp: Path, repeat: int) -> list[dict]:
    existing = f"sqlite:///{tmp / 'existing.db'}"
    run_process([*OBSCAT_SCRIPT, "--db", existing, "stores"])  # creates the catalogue
    cases = {
        "python -c pass (interpreter start)": lambda: run_process([sys.executable, "-c", "pass"]),
        "obscat ingest HESS (new SQLite file)": lambda: run_process(
            [*OBSCAT_SCRIPT, "--db", f"sqlite:///{tmp / uuid.uuid4().hex}.db", "ingest", str(hess)]),
        "obscat ingest HESS (existing catalogue)": lambda: run_process(
            [*OBSCAT_SCRIPT, "--db", existing, "ingest", str(hess), "--name", uuid.uuid4().hex]),
    }
    if have_gammapy():
        cases["gammapy DataStore.from_dir(HESS)"] = lambda: run_process(
            [str(GAMMAPY_PYTHON), "-c", f"from gammapy.data import DataStore; DataStore.from_dir({str(hess)!r})"])
    return report("HESS DL3 DR1 ingest, whole processes", alternate(cases, repeat),
                  baseline="python -c pass (interpreter start)")  # fmt: skip


def cold_start(hess: Path, tmp: Path, repeat: int) -> list[dict]:
    url = f"sqlite:///{tmp / 'cold.db'}"
    run_process([*OBSCAT_SCRIPT, "--db", url, "ingest", str(hess)])
    cases = {
        "python -c pass (interpreter start)": lambda: run_process([sys.executable, "-c", "pass"]),
        "floor: import sqlalchemy.orm, typer's adapters": lambda: run_process(
            [sys.executable, "-c", "import sqlalchemy.orm, typer._adapters"]),
        "obscat stores": lambda: run_process([*OBSCAT_SCRIPT, "--db", url, "stores"]),
        "obscat obs list (105 rows)": lambda: run_process([*OBSCAT_SCRIPT, "--db", url, "obs", "list"]),
    }
    if have_gammapy():
        cases["gammapy: print(DataStore.from_dir(HESS).obs_table)"] = lambda: run_process(
            [str(GAMMAPY_PYTHON), "-c", f"from gammapy.data import DataStore; print(DataStore.from_dir({str(hess)!r}).obs_table)"])
    return report("Cold start, whole processes", alternate(cases, repeat), baseline="python -c pass (interpreter start)")


def large(cache: Path, tmp: Path, pg: PgDatabases, n_obs: int, repeat: int) -> list[dict]:
    store = cache / f"synthetic-{n_obs}"  # generated once, kept for later runs
    if (generated := synthetic_store(store, n_obs)) is not None:
        print(f"generated {n_obs} synthetic observations in {generated[0]:.1f} s (peak {generated[1]:.0f} MiB)")
    read = ("from astropy.table import Table; "
            f"Table.read({str(store / 'obs-index.fits.gz')!r}); Table.read({str(store / 'hdu-index.fits.gz')!r})")  # fmt: skip
    cases = {
        "astropy Table.read of both index files": lambda: run_process([sys.executable, "-c", read]),
        f"obscat ingest {n_obs} obs into SQLite": lambda: run_process(
            [*OBSCAT_SCRIPT, "--db", f"sqlite:///{tmp / uuid.uuid4().hex}.db", "ingest", str(store)]),
        f"obscat ingest {n_obs} obs into PostgreSQL": lambda: run_process(
            [*OBSCAT_SCRIPT, "--db", pg.new(), "ingest", str(store)]),
    }
    return report(f"{n_obs} synthetic observations ({6 * n_obs} HDU rows), whole processes",
                  alternate(cases, repeat), baseline="astropy Table.read of both index files")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--large", action="store_true", help="also ingest a synthetic store of --n-large rows")
    parser.add_argument("--n-large", type=int, default=1_000_000)
    parser.add_argument("--repeat-large", type=int, default=3)
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "obscat-bench")
    args = parser.parse_args()
    hess = DATA / "hess-dl3-dr1"
    args.work_dir.mkdir(parents=True, exist_ok=True)
    pg = PgDatabases(args.pg_url)
    results = {}
    try:
        with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
            tmp = Path(tmp)
            results["hess_in_process"] = hess_in_process(hess, tmp, pg, args.repeat)
            results["hess_processes"] = hess_processes(hess, tmp, args.repeat)
            results["cold_start"] = cold_start(hess, tmp, 2 * args.repeat)
            if args.large:
                results["large"] = large(args.work_dir, tmp, pg, args.n_large, repeat=args.repeat_large)
    finally:
        pg.drop_all()
    save("ingest", results)


if __name__ == "__main__":
    main()
