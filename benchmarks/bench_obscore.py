"""The IVOA ObsCore table: obscat against Gammapy 2.1's ``to_obscore_table``, and at 10^5 observations.

    python benchmarks/bench_obscore.py [N] [--repeat R]

1. HESS DL3 DR1 (105 observations), in process, alternating: ``Catalog.obscore`` on a SQLite catalogue
   against Gammapy's ``gammapy.data.ivoa.to_obscore_table`` (which opens every file).
2. N (default 100,000) synthetic observations (the store bench_listing.py makes, cached under
   ``$OBSCAT_BENCH_DIR``), on SQLite and PostgreSQL: ``Catalog.obscore``, the views joined on
   obs_publisher_did in plain SQL, one observation of ``obscore_hea``; on SQLite each export format,
   and ``obscat obscore export`` as a whole process (VOTable). Every observation has two GTI rows
   (its two halves, inserted in SQL: reading 10^5 files is not what is measured), so t_intervals
   has values.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import DATA, alternate, pg_database, report, run_process, save, synthetic_store, timed  # noqa: E402

from obscat import Catalog  # noqa: E402

CACHE = Path(os.environ.get("OBSCAT_BENCH_DIR", "/tmp/obscat-listing"))
JOIN = "SELECT c.obs_id, h.ev_xel FROM obscore c JOIN obscore_hea h ON h.obs_publisher_did = c.obs_publisher_did"


def hess(repeat: int, work: Path) -> list[dict]:
    from gammapy.data.ivoa import to_obscore_table

    cat = Catalog(f"sqlite:///{work / 'hess.db'}")
    cat.ingest(DATA / "hess-dl3-dr1", name="hess")

    def gammapy() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            to_obscore_table(DATA / "hess-dl3-dr1", obs_publisher_did="ivo://example.org/hess", access_url="https://x/")

    cases = {"gammapy to_obscore_table (105 obs)": timed(gammapy),
             "obscat Catalog.obscore (105 obs)": timed(lambda: cat.obscore(authority="example.org"))}  # fmt: skip
    return report("HESS DL3 DR1: the ObsCore table", alternate(cases, repeat), "gammapy to_obscore_table (105 obs)")


def scale(n_obs: int, repeat: int, work: Path) -> list[dict]:
    store = CACHE / f"store-{n_obs}"
    synthetic_store(store, n_obs)
    urls = {"sqlite": f"sqlite:///{work / 'big.db'}", "postgresql": pg_database("obscat_bench_obscore", fresh=True)}
    return [row for backend, url in urls.items() for row in _backend(backend, url, store, n_obs, repeat, work)]


def _backend(backend: str, url: str, store: Path, n_obs: int, repeat: int, work: Path) -> list[dict]:
    cat = Catalog(url)
    cat.ingest(store, name="s0")
    with cat.engine.begin() as conn:
        for seq, start, stop in ((0, "tstart_mjd", "(tstart_mjd + tstop_mjd) / 2"), (1, "(tstart_mjd + tstop_mjd) / 2", "tstop_mjd")):
            conn.execute(sa.text(f"INSERT INTO gti_interval SELECT id, {seq}, {start}, {stop} FROM observation"))
    cases = {f"{backend}: Catalog.obscore": timed(lambda: cat.obscore(authority="example.org", fov="5 deg")),
             f"{backend}: SQL join on obs_publisher_did": timed(lambda: cat.sql(JOIN)),
             f"{backend}: obscore_hea WHERE obs_id = '5'": timed(lambda: cat.sql("SELECT * FROM obscore_hea WHERE obs_id = '5'"))}  # fmt: skip
    if backend == "sqlite":
        for fmt in ("votable", "ecsv", "fits", "csv"):
            cases[f"sqlite: export_obscore {fmt}"] = timed(lambda fmt=fmt: _export(cat, work / f"obscore.{fmt}", fmt))

        def process() -> tuple[float, float | None]:
            (work / "cli.xml").unlink(missing_ok=True)
            return run_process([sys.executable, "-m", "obscat", "--db", url, "obscore", "export", "-o",
                                str(work / "cli.xml"), "--fov", "5 deg"])  # fmt: skip
        cases["sqlite: obscat obscore export (process, votable)"] = process
    try:
        return report(f"{n_obs} synthetic observations, {backend}", alternate(cases, repeat))
    finally:
        cat.close()


def _export(cat: Catalog, path: Path, fmt: str) -> None:
    path.unlink(missing_ok=True)
    cat.export_obscore(path, format=fmt, authority="example.org", fov="5 deg")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n_obs", nargs="?", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        save("obscore", {"hess": hess(args.repeat, work), "scale": scale(args.n_obs, args.repeat, work)})


if __name__ == "__main__":
    main()
